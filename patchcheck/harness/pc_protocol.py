"""The child side of the tool/child protocol: every task read and every answer built here.

The tool's side is ``patchcheck/runner/protocol.py`` (xdist's ``workermanage.py`` and
``remote.py`` pair). What both must agree on (schema versions, the control table) is the data
file ``pc_protocol.json`` beside this module; a spec with another schema is refused.

Standard library only (``json``, ``os``), Python 3.9+: it runs in the target interpreter, in
every child and in the zygote, before the library under test is imported.
"""
import json
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pc_protocol.json"),
          encoding="utf-8") as _f:
    _SHARED = json.load(_f)

SPEC_SCHEMA = _SHARED["spec_schema"]
RESULT_SCHEMA = _SHARED["result_schema"]
TASK_KINDS = tuple(_SHARED["tasks"])
#: control name -> the outcome the meter must report for it (every control, default or not)
CONTROL_EXPECT = {name: row["expect"] for name, row in _SHARED["controls"].items()}
#: control name -> the services it needs
CONTROL_SERVICES = {name: tuple(row.get("services") or ())
                    for name, row in _SHARED["controls"].items()}


class SpecError(ValueError):
    """The spec is not one this harness can run (a patchcheck bug or version mismatch)."""


class Task:
    """One task, read from a spec: ``kind``, the envelope fields, and its own ``args``."""

    def __init__(self, kind, args, spec):
        self.kind = kind
        self.args = args
        self.timeout = spec.get("timeout")
        self.stack_file = spec.get("stack_file")
        self.stack_dump_after = spec.get("stack_dump_after")
        self.tmpdir = spec.get("tmpdir")


class InfoTask(Task):
    def __init__(self, args, spec):
        Task.__init__(self, "info", args, spec)
        self.distributions = list(args.get("distributions") or ())
        self.all_installed = bool(args.get("all_installed"))


class ImportTask(Task):
    def __init__(self, args, spec):
        Task.__init__(self, "import", args, spec)
        self.order = args.get("order") or "after"
        if self.order not in ("after", "before"):
            raise SpecError("import order must be 'after' or 'before', not %r" % (self.order,))
        self.modules = list(args.get("modules") or ())
        self.patch_args = dict(args.get("patch_args") or {})


class ProbeTask(Task):
    def __init__(self, args, spec):
        Task.__init__(self, "probe", args, spec)
        probe = args["probe"]
        self.name = probe.get("name") or "probe"
        self.path = probe["path"]
        self.function = probe["function"]
        self.wait = probe.get("wait")
        self.concurrency = probe.get("concurrency")
        self.import_order = probe.get("import_order") or "after"
        remedy = probe.get("remedy") or None
        self.remedy_label = remedy.get("label") if remedy else None
        self.remedy_function = remedy.get("function") if remedy else None
        self.remedy_requires = list(remedy.get("requires") or ()) if remedy else []
        self.remedy_install = remedy.get("install") if remedy else None
        self.remedy_libraries = list(remedy.get("libraries") or ()) if remedy else []
        self.services = dict(args.get("services") or {})
        self.modules = list(args.get("modules") or ())
        self.patch_args = dict(args.get("patch_args") or {})


class ControlTask(Task):
    def __init__(self, args, spec):
        Task.__init__(self, "control", args, spec)
        self.control = args["control"]
        if self.control not in CONTROL_EXPECT:
            raise SpecError("unknown control %r (known: %s)"
                            % (self.control, ", ".join(CONTROL_EXPECT)))
        self.wait = args.get("wait")
        self.concurrency = args.get("concurrency")
        self.services = dict(args.get("services") or {})
        self.patch_args = dict(args.get("patch_args") or {})


class PluginsTask(Task):
    def __init__(self, args, spec):
        Task.__init__(self, "plugins", args, spec)
        self.load = bool(args.get("load", True))
        self.only = args.get("only") or None  # {"group", "name", "distribution"}


class PatchSignatureTask(Task):
    def __init__(self, args, spec):
        Task.__init__(self, "patch-signature", args, spec)


_TASKS = {"info": InfoTask, "import": ImportTask, "probe": ProbeTask,
          "control": ControlTask, "plugins": PluginsTask,
          "patch-signature": PatchSignatureTask}


def read_task(spec):
    """The typed task of a spec document; ``SpecError`` for one this harness cannot run."""
    if not isinstance(spec, dict) or spec.get("schema") != SPEC_SCHEMA:
        found = spec.get("schema") if isinstance(spec, dict) else type(spec).__name__
        raise SpecError("unsupported spec schema %r (this harness speaks %r)"
                        % (found, SPEC_SCHEMA))
    kind = spec.get("task")
    cls = _TASKS.get(kind)
    if cls is None or kind not in TASK_KINDS:
        raise SpecError("unknown task %r (known: %s)" % (kind, ", ".join(TASK_KINDS)))
    return cls(spec.get("args") or {}, spec)


def ok_result(kind, data, leftover_processes=()):
    """The result document of a task that ran (the library's failures are inside ``data``);
    ``leftover_processes``: what the check left running, killed before this was written."""
    return {"schema": RESULT_SCHEMA, "task": kind, "ok": True, "data": data,
            "leftover_processes": list(leftover_processes)}


def harness_failure(kind, error, traceback_text=None):
    """The result document when the harness itself failed: patchcheck's problem, no verdict."""
    doc = {"schema": RESULT_SCHEMA, "task": kind, "ok": False, "error": error}
    if traceback_text:
        doc["traceback"] = traceback_text
    return doc


# -- the zygote's lines (see pc_zygote.py) -------------------------------------------------

def zygote_ready(pid, preload):
    return {"ready": True, "pid": pid, "preload": list(preload)}


def zygote_failed(error):
    return {"error": error}


def zygote_started(call_id, pid):
    return {"id": call_id, "pid": pid}


def zygote_exited(call_id, pid, status, orphans=()):
    return {"id": call_id, "pid": pid, "status": status, "orphans": list(orphans)}


def zygote_refused(call_id, error):
    return {"id": call_id, "error": error}


def read_zygote_request(line):
    """``{"id", "argv", "stdout", "stderr"}`` from one request line."""
    req = json.loads(line)
    return req.get("id"), list(req["argv"]), req["stdout"], req["stderr"]


def encode_line(doc):
    return (json.dumps(doc) + "\n").encode()
