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

import pc_contain
import pc_protocol

# Captured before any task can monkey-patch: the watchdog below must be a real OS thread.
_start_native_thread = _thread.start_new_thread
_native_sleep = time.sleep

def _write_result(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, default=repr)
    os.replace(tmp, path)


def _arm_stack_dumps(task):
    # Crash dumps and the hang dump go to a file of their own: stderr belongs to the library.
    stack_file = task.stack_file
    if not stack_file:
        return None
    handle = open(stack_file, "w")
    faulthandler.enable(handle, all_threads=True)
    after = task.stack_dump_after
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


def _dispatch(task):
    # Each task module is imported only by its own task: what a child has imported before the
    # library is part of what is measured.
    if task.kind == "info":
        import pc_info

        return pc_info.run(task)
    if task.kind == "import":
        import pc_imports

        return pc_imports.run(task)
    if task.kind == "probe":
        import pc_probe

        return pc_probe.run_probe(task)
    if task.kind == "control":
        import pc_probe

        return pc_probe.run_control(task)
    if task.kind == "plugins":
        import pc_plugins

        return pc_plugins.run(task)
    if task.kind == "patch-signature":
        import pc_signature

        return pc_signature.run(task)
    raise pc_protocol.SpecError("no runner for task %r" % (task.kind,))  # pragma: no cover


def main(argv):
    spec_path, result_path = argv[1], argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    kind = spec.get("task") if isinstance(spec, dict) else None
    try:
        task = pc_protocol.read_task(spec)
    except (pc_protocol.SpecError, KeyError, TypeError) as exc:
        _write_result(result_path, pc_protocol.harness_failure(
            kind, "%s: %s" % (type(exc).__name__, exc)))
        return 3
    _contain(spec)
    _arm_stack_dumps(task)
    try:
        data = _dispatch(task)
    except BaseException as exc:  # the harness itself failed: report it, never as a verdict
        _write_result(result_path, pc_protocol.harness_failure(
            kind, "%s: %s" % (type(exc).__name__, exc), traceback.format_exc()))
        return 3
    faulthandler.cancel_dump_traceback_later()
    # What the library left running is killed here, while it is still ours (subreaper).
    leftovers = pc_contain.sweep()
    _write_result(result_path, pc_protocol.ok_result(kind, data, leftover_processes=leftovers))
    return 0


def _contain(spec):
    """Process setup shared by fresh and forked children (README "Containment").

    A scratch working directory of the check's own, so that what a library writes relative
    to the cwd never lands in the user's project (the harness puts no cwd on sys.path, and the
    runner makes relative PYTHONPATH entries absolute, so imports are unaffected); orphaned
    descendants re-parent to us; and we die with our parent (the zygote or the tool).
    """
    cwd = spec.get("cwd")
    if cwd:
        os.chdir(cwd)
    pc_contain.set_subreaper()
    import signal

    pc_contain.set_parent_death_signal(signal.SIGKILL)


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
