"""The ``plugins`` task: every gevent plugin entry point installed in this interpreter.

Any installed distribution can run code inside every ``patch_all()`` through the entry-point
groups below: ``gevent.events.notify_and_call_entry_points`` loads each one and calls it with
the event, and lets any exception propagate, so one broken plugin makes every ``patch_all()`` in
the environment raise (the field report: ``DistributionNotFound`` raised from
``notify_and_call_entry_points`` inside ``patch_all()``).

This task lists them (group, name, value, providing distribution) and, when asked, ``load()``s
each one *without patching*, recording success or the exception. Standard library only, Python
3.9+: on 3.9 ``entry_points()`` has no ``group=`` selection and ``EntryPoint`` has no ``.dist``,
so entry points are read per distribution (``Distribution.entry_points``), which also names the
provider.

Spec fields: ``load`` (bool, default true); ``only`` (optional ``{"group", "name",
"distribution"}``: load just that one, so the tool side can isolate an entry point whose loading
crashes or hangs the process).
"""
import re
import sys
import traceback

try:
    from importlib import metadata as _md
except ImportError:  # pragma: no cover - gevent needs Python 3.8+ anyway
    _md = None

#: The groups gevent calls, in the order ``patch_all()`` emits them (gevent/events.py).
GROUPS = (
    "gevent.plugins.monkey.will_patch_all",
    "gevent.plugins.monkey.will_patch_module",
    "gevent.plugins.monkey.did_patch_module",
    "gevent.plugins.monkey.did_patch_builtins",
    "gevent.plugins.monkey.did_patch_all",
    "gevent.plugins.hub.periodic_monitor_thread_started",
)

_TRACEBACK_LINES = 20


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_name(dist):
    try:
        return dist.metadata["Name"] or ""
    except Exception:
        return ""


def entry_points():
    """(entry point, distribution name, version) for every gevent plugin, in sys.path order.

    A distribution installed twice on sys.path counts once (the first wins), as
    ``importlib.metadata.entry_points()`` does on 3.10+ and therefore as gevent sees it.
    """
    found = []
    seen = set()
    for dist in _md.distributions():
        name = _dist_name(dist)
        key = _normalize(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            eps = list(dist.entry_points)
        except Exception:  # unreadable entry_points.txt: gevent would fail on it too
            continue
        for ep in eps:
            if ep.group in GROUPS:
                found.append((ep, name, dist.version))
    order = {g: i for i, g in enumerate(GROUPS)}
    found.sort(key=lambda t: (order[t[0].group], _normalize(t[1]), t[0].name))
    return found


def _machinery(filename):
    name = filename.replace("\\", "/")
    return (name == __file__.replace("\\", "/") or name.startswith("<frozen importlib")
            or "/importlib/" in name)


def _load(ep):
    """Load one entry point; (loaded, error, traceback tail). Never raises."""
    try:
        obj = ep.load()
    except BaseException as exc:  # noqa: B036 - SystemExit/DoNotPatch on import are findings
        # Only the plugin's own frames are evidence: drop the harness and importlib machinery.
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _machinery(f.filename)]
        lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
        tail = "".join(lines).splitlines()[-_TRACEBACK_LINES:]
        return False, "%s: %s" % (type(exc).__name__, exc), "\n".join(tail)
    if not callable(obj):
        # gevent calls it with the event: a non-callable raises TypeError in every patch_all().
        return False, "TypeError: %s is not callable (it is %s)" % (
            ep.value, type(obj).__name__), None
    return True, None, None


def run(task):
    """Run a ``PluginsTask`` (``pc_protocol``)."""
    load, only = task.load, task.only
    plugins = []
    for ep, dist_name, version in entry_points():
        if only and (ep.group != only.get("group") or ep.name != only.get("name")
                     or _normalize(dist_name) != _normalize(only.get("distribution", ""))):
            continue
        row = {
            "group": ep.group,
            "name": ep.name,
            "value": ep.value,
            "distribution": dist_name,
            "version": version,
            "loaded": None,
            "error": None,
            "traceback": None,
        }
        if load:
            row["loaded"], row["error"], row["traceback"] = _load(ep)
        plugins.append(row)
    return {"plugins": plugins, "python": sys.executable}
