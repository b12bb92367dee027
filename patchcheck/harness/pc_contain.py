"""Process containment for children and the zygote: no process a check starts outlives it.

Standard library only (runs in the target interpreter, by the zygote before it forks and by
``pc_child``). Linux gives two tools that need no privileges:

* ``PR_SET_CHILD_SUBREAPER``: a descendant orphaned by its parent (double fork, a daemon that
  calls ``setsid()``) is re-parented to the nearest subreaper ancestor instead of init, so it
  stays findable as our child however it detached;
* ``PR_SET_PDEATHSIG``: a signal delivered when the parent dies, so a ``kill -9`` of the tool
  does not leave the zygote (and, through it, every check) running.

``sweep()`` kills what is left below a process and says how many it found, the evidence for
PC106. Elsewhere (macOS, no /proc) every function here is a harmless no-op.
"""
import os
import signal
import time

# Captured at import, before any task patches (or the zygote does, pc_imports.patch_in_zygote):
# a sweep must not run the gevent hub, nor let gevent's waitpid() watch children.
_native_sleep = time.sleep
_native_waitpid = os.waitpid

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option, value):
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_subreaper():
    """Make orphaned descendants of this process its children (Linux >= 3.4)."""
    return os.path.isdir("/proc/self") and _prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(sig):
    """Deliver ``sig`` to this process when its parent dies."""
    return os.path.isdir("/proc/self") and _prctl(PR_SET_PDEATHSIG, int(sig))


def _parents():
    """{pid: (ppid, state, name)} of every process we can see in /proc."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                raw = f.read().decode("ascii", "replace")
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        head, _, rest = raw.rpartition(")")
        fields = rest.split()
        if len(fields) < 2:
            continue
        comm = head.partition("(")[2]
        table[int(name)] = (int(fields[1]), fields[0], comm)
    return table


def descendants(root, prune=()):
    """Live (non-zombie) descendants of ``root``: [(pid, name)], parents first.

    The processes in ``prune`` and everything below them are left out.
    """
    table = _parents()
    children = {}
    for pid, (ppid, _state, _name) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = []
    todo = [pid for pid in children.get(root, ()) if pid not in prune]
    while todo:
        pid = todo.pop(0)
        ppid, state, name = table[pid]
        if state != "Z":
            found.append((pid, _cmdline(pid) or name))
        todo.extend(p for p in children.get(pid, ()) if p not in prune)
    return found


def _cmdline(pid, limit=200):
    """The command line of ``pid`` as one short string (evidence), or "" if it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read(limit + 1)
    except OSError:
        return ""
    text = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    return text[:limit]


def _reap(pids):
    # Only the pids we killed: the zygote's live checks are reaped (and reported) elsewhere.
    for pid in pids:
        try:
            _native_waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def sweep(root=None, keep=(), rounds=20):
    """SIGKILL every descendant of ``root`` (default: this process) except ``keep`` and theirs.

    Repeats until none is left (a process may fork while we look), reaping our own children.
    Returns the names of the processes found on the first look, the ones a check left behind.
    """
    root = os.getpid() if root is None else root
    keep = set(keep)
    first = None
    for _ in range(rounds):
        found = descendants(root, prune=keep)
        if first is None:
            first = [name for _, name in found]
        if not found:
            break
        for pid, _name in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if root == os.getpid():
            # Killed descendants re-parent to us (we are their subreaper): reap them.
            _native_sleep(0.02)
            _reap([pid for pid, _name in found])
    return first or []
