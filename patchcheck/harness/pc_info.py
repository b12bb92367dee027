"""The ``info`` task: what the target interpreter is and what is installed in it.

Runs without importing any target library (and without patching): only ``importlib.metadata``.
"""
import os
import platform
import sys
import sysconfig

try:
    from importlib import metadata as _md
except ImportError:  # pragma: no cover - Python < 3.8 is not supported by gevent anyway
    _md = None


def _normalize(name):
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _version_of(name):
    try:
        return _md.version(name)
    except Exception:
        return None


def marker_environment():
    """PEP 508 marker variables of *this* interpreter (the target, not the tool)."""
    impl = sys.implementation
    iver = "%d.%d.%d" % impl.version[:3]
    if impl.version.releaselevel != "final":
        iver += impl.version.releaselevel[0] + str(impl.version.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": iver,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _import_names(dist, files):
    """Every top-level import name: top_level.txt, else RECORD's first path components
    (``files``: ``dist.files``, read once by the caller).

    All of them, test suites and private modules included: which ones are import targets is
    decided on the tool side (patchcheck/targets/modules.py), where the config can change it.
    """
    names = []
    text = None
    try:
        text = dist.read_text("top_level.txt")
    except Exception:
        text = None
    if text:
        names = [n.strip().replace("/", ".") for n in text.splitlines() if n.strip()]
    if not names:
        seen = set()
        for f in files:
            parts = f.parts
            if not parts:
                continue
            first = parts[0]
            if (first.endswith((".dist-info", ".egg-info", ".data"))
                    or first in ("..", "__pycache__")):
                continue
            if len(parts) == 1:
                base = first.split(".", 1)[0]
                if first.endswith(".py") or _is_extension(first):
                    if base not in seen:
                        seen.add(base)
                        names.append(base)
            elif any(p == "__init__.py" for p in parts[1:2]) or (
                    len(parts) >= 2 and parts[-1].endswith(".py")):
                if first not in seen and first.isidentifier():
                    seen.add(first)
                    names.append(first)
    valid = [n for n in names if n and all(p.isidentifier() for p in n.split("."))]
    return valid or [n for n in names if n]


_EXT_SUFFIXES = None


def _is_extension(filename):
    global _EXT_SUFFIXES
    if _EXT_SUFFIXES is None:
        import importlib.machinery

        _EXT_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return filename.endswith(_EXT_SUFFIXES) or ".so." in filename or filename.endswith(
        (".so", ".dylib", ".pyd"))


def _describe(dist, requested):
    # dist.files parses RECORD into a path object per line, and every dist.metadata (and
    # dist.version, dist.requires) parses METADATA again: each once per distribution here,
    # as this child is the serial start of every scan (1.8 s for 140 distributions before).
    record = dist.files or ()
    meta = dist.metadata
    files = []
    native = []
    for f in record:
        files.append(str(f))
        if _is_extension(f.name):
            try:
                native.append(str(dist.locate_file(f)))
            except Exception:
                pass
    hashes = sorted("%s=%s" % (f, f.hash.value) for f in record if f.hash)
    name = meta["Name"] or requested
    return {
        "requested": requested,
        "installed": True,
        "name": name,
        "version": meta["Version"],
        "import_names": _import_names(dist, record),
        "native_files": native,
        "files_digest": _digest("\n".join(hashes) or "\n".join(files)),
        # Requires-Dist, else what dist.requires reads besides (an egg's requires.txt)
        "requires": list(meta.get_all("Requires-Dist") or dist.requires or ()),
        "requires_python": meta["Requires-Python"] or "",
        "python_classifiers": _python_classifiers(meta),
        "location": str(dist.locate_file("")),
    }


def _python_classifiers(meta):
    """"Programming Language :: Python :: 3.11" → "3.11" (the Python versions it claims)."""
    prefix = "Programming Language :: Python :: "
    out = []
    for c in meta.get_all("Classifier") or ():
        version = c[len(prefix):] if c.startswith(prefix) else ""
        if version.count(".") == 1 and version.replace(".", "").isdigit():
            out.append(version)
    return out


def _digest(text):
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _find(name):
    try:
        return _md.distribution(name)
    except Exception:
        pass
    key = _normalize(name)
    for dist in _md.distributions():
        try:
            if _normalize(dist.metadata["Name"] or "") == key:
                return dist
        except Exception:
            continue
    return None


def _plugins_fingerprint():
    """A digest of the gevent plugins installed here (entry point, providing distribution, its
    version and RECORD) and of which distributions are installed at all (the metadata folders
    on ``sys.path``: a plugin may import another distribution): what the tool's cached plugin
    inventory is keyed by, so that a re-scan needs no ``plugins`` child while nothing that
    runs inside ``patch_all()`` changed. "" when they cannot be listed (the inventory then
    runs)."""
    try:
        import pc_plugins

        rows = []
        for entry in sys.path:
            try:
                names = os.listdir(entry or ".")
            except OSError:
                continue
            rows.append(entry + "|" + "|".join(sorted(
                n for n in names if n.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")))))
        for ep, dist_name, version in pc_plugins.entry_points():
            dist = _find(dist_name)
            hashes = sorted("%s=%s" % (f, f.hash.value) for f in (dist.files or ()) if f.hash) \
                if dist is not None else []
            rows.append("%s|%s|%s|%s|%s|%s" % (ep.group, ep.name, ep.value, dist_name, version,
                                              _digest("\n".join(hashes))))
        return _digest("\n".join(rows))
    except Exception:
        return ""


#: What in a ``sys.path`` folder decides what importlib.metadata finds there and what the
#: interpreter puts on ``sys.path`` at start-up.
_STAMPED_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth", ".egg")
_STAMPED_NAMES = ("EGG-INFO", "sitecustomize.py", "usercustomize.py")


def _stat_row(path):
    """``[path, mtime_ns, ctime_ns, inode, size, device]``; the numbers None when missing.
    The tool compares these rows with its own ``os.stat`` (patchcheck/targets/snapshot.py)."""
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None, None, None, None]
    return [path, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size, st.st_dev]


def stamps():
    """What proves this inspection still true (docs/architecture.md, "Caching"): every
    ``sys.path`` entry, and in each folder the metadata folders (and every file in them),
    ``.pth``/``.egg-link`` files and site/user customize modules. A folder's mtime changes
    when an entry is added, removed or renamed (pip re-creates a ``.dist-info`` on upgrade);
    the files' own rows catch edits in place (an ``egg_info`` run rewriting PKG-INFO).
    Taken *before* anything is read, so a change during the inspection shows as a change."""
    rows = []
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        rows.append(_stat_row(folder))
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue  # a zip file or a missing folder: its own row is the stamp
        for name in names:
            if not (name.endswith(_STAMPED_SUFFIXES) or name in _STAMPED_NAMES):
                continue
            path = os.path.join(folder, name)
            rows.append(_stat_row(path))
            if name.endswith((".dist-info", ".egg-info")) or name == "EGG-INFO":
                try:
                    inner = sorted(os.listdir(path))
                except OSError:
                    continue
                rows.extend(_stat_row(os.path.join(path, n)) for n in inner)
    return rows


def run(task):
    """Run an ``InfoTask`` (``pc_protocol``)."""
    taken = stamps()
    env = {
        "executable": sys.executable,
        "python_version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": sysconfig.get_platform(),
        "gevent_version": _version_of("gevent"),
        "greenlet_version": _version_of("greenlet"),
        "markers": marker_environment(),
        "prefix": sys.prefix,
        "plugins_fingerprint": _plugins_fingerprint(),
    }
    dists = []
    names = list(task.distributions)
    #: the first distribution of each name on sys.path, as _find() would find it again
    found = {}
    if task.all_installed:
        seen = set()
        for dist in _md.distributions():
            n = dist.metadata["Name"]
            if n and _normalize(n) not in seen:
                seen.add(_normalize(n))
                names.append(n)
                found[n] = dist
    for name in names:
        dist = found.get(name) or _find(name)
        if dist is None:
            dists.append({"requested": name, "installed": False})
            continue
        try:
            dists.append(_describe(dist, name))
        except Exception as exc:  # a broken RECORD must not hide the others
            dists.append({"requested": name, "installed": True, "name": name,
                          "version": getattr(dist, "version", None), "import_names": [],
                          "native_files": [], "error": "%s: %s" % (type(exc).__name__, exc)})
    return {"environment": env, "distributions": dists, "stamps": taken}
