"""Entry point of every patchcheck child process (run by path, see ``__init__.py``).

Usage: ``python pc_child.py SPEC.json RESULT.json``. Standard library only at import time:
gevent is imported by the task, at the moment the task chooses (import order is the point).
"""
import _thread
import faulthandler
import json
import os
import sys
import time
import traceback

# Captured before any task can monkey-patch: the watchdog below must be a real OS thread.
_start_native_thread = _thread.start_new_thread
_native_sleep = time.sleep

RESULT_SCHEMA = "patchcheck.child/1"
SPEC_SCHEMA = "patchcheck.child-spec/1"


def _write_result(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, default=repr)
    os.replace(tmp, path)


def _arm_stack_dumps(spec):
    # Crash dumps and the hang dump go to a file of their own: stderr belongs to the library.
    stack_file = spec.get("stack_file")
    if not stack_file:
        return None
    handle = open(stack_file, "w")
    faulthandler.enable(handle, all_threads=True)
    after = spec.get("stack_dump_after")
    if after:
        faulthandler.dump_traceback_later(float(after), repeat=False, file=handle, exit=False)
        # faulthandler sees OS threads only; a hang inside gevent shows just the hub. Shortly
        # before the deadline, a native thread also writes every greenlet's stack (if the GIL
        # is free: a C call holding it leaves only faulthandler's dump, which still works).
        _start_native_thread(_greenlet_watchdog,
                             (stack_file + ".greenlets", max(0.05, float(after) - 0.3)))
    return handle


def _greenlet_watchdog(path, delay):
    _native_sleep(delay)
    if "greenlet" not in sys.modules:
        return
    try:
        import gc

        import greenlet

        chunks = []
        for obj in gc.get_objects():
            if isinstance(obj, greenlet.greenlet) and obj.gr_frame is not None:
                stack = "".join(traceback.format_stack(obj.gr_frame))
                chunks.append("Greenlet %r (most recent call last):\n%s" % (obj, stack))
        with open(path, "w") as f:
            f.write("\n".join(chunks))
    except Exception:
        pass


def _dispatch(spec):
    task = spec.get("task")
    if task == "info":
        import pc_info

        return pc_info.run(spec)
    if task == "import":
        import pc_imports

        return pc_imports.run(spec)
    if task == "probe":
        import pc_probe

        return pc_probe.run_probe(spec)
    if task == "control":
        import pc_probe

        return pc_probe.run_control(spec)
    if task == "plugins":
        import pc_plugins

        return pc_plugins.run(spec)
    if task == "patch-signature":
        import pc_signature

        return pc_signature.run(spec)
    raise ValueError("unknown task %r" % (task,))


def main(argv):
    spec_path, result_path = argv[1], argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("schema") != SPEC_SCHEMA:
        _write_result(result_path, {"schema": RESULT_SCHEMA, "task": spec.get("task"), "ok": False,
                                    "error": "unsupported spec schema %r" % (spec.get("schema"),)})
        return 3
    _arm_stack_dumps(spec)
    try:
        data = _dispatch(spec)
    except BaseException as exc:  # the harness itself failed: report it, never as a verdict
        _write_result(result_path, {
            "schema": RESULT_SCHEMA, "task": spec.get("task"), "ok": False,
            "error": "%s: %s" % (type(exc).__name__, exc),
            "traceback": traceback.format_exc(),
        })
        return 3
    faulthandler.cancel_dump_traceback_later()
    _write_result(result_path, {"schema": RESULT_SCHEMA, "task": spec.get("task"), "ok": True,
                                "data": data})
    return 0


if __name__ == "__main__":
    # Flush and leave without running atexit handlers or joining library threads: a library's
    # non-daemon thread must not turn a finished check into a hang.
    code = main(sys.argv)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)
