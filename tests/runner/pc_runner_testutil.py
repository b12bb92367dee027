"""Helpers of the runner tests: tiny modules that end a child in every way."""
from __future__ import annotations

from patchcheck.runner.protocol import ImportTask

MODULES = {
    "rt_ok": "VALUE = 42\n",
    "rt_segv": "import ctypes\nctypes.string_at(0)\n",
    "rt_hang": """
        import time
        def wait_forever():
            while True:
                time.sleep(0.05)
        wait_forever()
    """,
    "rt_exit7": "import os\nos._exit(7)\n",
    "rt_junk": """
        import sys
        print('{"schema": "patchcheck.child/2", "ok": false, junk')
        sys.stdout.write('\\x00\\xff not json at all\\n')
        sys.stderr.write('stderr junk\\n')
    """,
    "rt_chatty": """
        import sys
        for i in range(20000):
            print("line %06d of chatter from the library" % i)
            sys.stderr.write("err %06d\\n" % i)
        print("last line")
    """,
    "rt_grandchild": """
        import os, subprocess, sys
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["RT_PIDFILE"], "w") as f:
            f.write(str(p.pid))
    """,
    # A daemon in a session of its own, then a wait: "daemon-pid parent-pid" in RT_PIDFILE.
    "rt_daemon_then_hang": """
        import os, subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                             start_new_session=True)
        with open(os.environ["RT_PIDFILE"], "w") as f:
            f.write("%d %d" % (p.pid, os.getppid()))
        while True:
            time.sleep(0.05)
    """,
    # A library that scribbles over the result file (sys.argv[2] of pc_child) and leaves.
    "rt_bad_result": """
        import os, sys
        with open(sys.argv[2], "w") as f:
            f.write("{not json")
        os._exit(0)
    """,
    "rt_old_schema": """
        import json, os, sys
        with open(sys.argv[2], "w") as f:
            json.dump({"schema": "patchcheck.child/1", "ok": True, "data": {}}, f)
        os._exit(0)
    """,
    # What the library sees at its import: a fresh child and a forked one must agree.
    "rt_environ": """
        import json, os, signal, sys, threading
        with open(os.environ["RT_ENVIRON"], "w") as f:
            json.dump({
                "gevent": "gevent" in sys.modules,
                "select": "select" in sys.modules,
                # the standard library a library finds loaded (the harness's own aside)
                "modules": sorted(m for m in sys.modules
                                  if not m.startswith(("pc_", "__main__", "rt_"))),
                # the collector sees what a fresh process's does (a zygote's gc.freeze()
                # would hide its objects, the main greenlet among them, from gc.get_objects())
                "gc_frozen": __import__("gc").get_freeze_count(),
                "argv0": os.path.basename(sys.argv[0]),
                "argc": len(sys.argv),
                "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                "sigchld": str(signal.getsignal(signal.SIGCHLD)),
                "sigint": str(signal.getsignal(signal.SIGINT)),
                "wakeup": signal.set_wakeup_fd(-1),
                "session": os.getsid(0) == os.getpid(),
                "stdin": os.path.realpath("/proc/self/fd/0"),
                "stdout_fifo": __import__("stat").S_ISFIFO(os.fstat(1).st_mode),
                # after patching (a fresh child's own patch_all(), or the zygote's)
                "patched": sorted(sys.modules["gevent.monkey"].saved)
                           if "gevent.monkey" in sys.modules else None,
                "hub": "gevent.hub" in sys.modules
                       and sys.modules["gevent.hub"]._get_hub() is not None,
                "os_threads": len(os.listdir("/proc/self/task")),
                "main_thread": threading.current_thread() is threading.main_thread(),
                "main_ident": threading.main_thread().ident == threading.get_ident(),
                "threads": threading.active_count(),
            }, f)
    """,
}

def import_task(module: str, order: str = "before") -> ImportTask:
    """A child that imports ``module`` (one of ``MODULES``), which then does its thing."""
    return ImportTask(modules=(module,), order=order)


def state(pid: int) -> str | None:
    """Process ``pid``'s state letter in /proc (``R``, ``S``, ``T``, ``Z``…), None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def gone(pid: int) -> bool:
    """Whether process ``pid`` is dead (a zombie counts as dead)."""
    return state(pid) in ("Z", None)
