"""Capturing a stalled stack, safely, from a thread that is not the one stalling.

Runs in gevent's monitor thread (or our fallback sampler thread) while the hub's thread is
stuck, so it only reads: file names, line numbers, function names, and — for the innermost
frame outside the standard library and gevent — *what that line is calling*. A C extension
(psycopg2's ``cursor.execute``, a libcurl transfer) has no Python frame of its own, so the
innermost Python frame is the caller's; the object the caller's line calls a method on names
the library that really blocked (GEVENT-NOTES "Monitoring reports, it does not attribute").

No gevent import here: the caller hands us a frame.
"""
from __future__ import annotations

import dis
import inspect
import os
import sys
import sysconfig
import types
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: frames kept per stack (the innermost ones)
MAX_FRAMES = 60


@dataclass(frozen=True)
class FrameInfo:
    file: str
    line: int
    function: str
    #: the source line, when linecache has it (read in the main thread, later)
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.function,
                "text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameInfo:
        return cls(data["file"], int(data["line"]), data["function"], data.get("text", ""))


@dataclass(frozen=True)
class CallHint:
    """What the innermost interesting frame's line is calling: ``cur.execute`` on a
    ``psycopg2.extensions.cursor`` → module ``psycopg2.extensions``."""

    expression: str  # "cur.execute"
    module: str  # the module that owns the called object's type (or the module called into)
    type_name: str  # "psycopg2.extensions.cursor" / "module psycopg2"

    def to_json(self) -> dict[str, Any]:
        return {"expression": self.expression, "module": self.module, "type": self.type_name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallHint:
        return cls(data["expression"], data["module"], data.get("type", ""))


@dataclass(frozen=True)
class Sample:
    """One look at the stalled thread: when, its frames (outermost first), and the call hint."""

    at: float  # time.perf_counter()
    frames: tuple[FrameInfo, ...]
    call: CallHint | None = None
    source: str = ""  # the instrument that took it (gevent's monitor thread, the sampler)


# --- which files are "infrastructure" (skipped when attributing) ---------------------------


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path)) if path else path


@lru_cache(maxsize=1)
def _stdlib_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    out = set()
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p:
            out.add(_norm(p) + os.sep)
    return tuple(sorted(out))


@lru_cache(maxsize=1)
def _infrastructure_prefixes() -> tuple[str, ...]:
    """gevent, greenlet, zope.event and patchcheck itself: never the culprit we name."""
    out = []
    for name in ("gevent", "greenlet", "zope.event", "patchcheck"):
        mod = sys.modules.get(name)
        path = getattr(mod, "__file__", None)
        if path:
            out.append(_norm(os.path.dirname(path)) + os.sep)
    return tuple(out)


@lru_cache(maxsize=4096)
def is_stdlib_file(path: str) -> bool:
    if not path or path.startswith("<"):
        # <frozen importlib._bootstrap>, <string>: the interpreter's own code
        return path.startswith("<frozen")
    norm = _norm(path)
    if "site-packages" in norm or "dist-packages" in norm:
        return False
    return norm.startswith(_stdlib_prefixes())


@lru_cache(maxsize=4096)
def is_infrastructure_file(path: str) -> bool:
    """Standard library, gevent, greenlet or patchcheck: skipped when naming a culprit."""
    if is_stdlib_file(path):
        return True
    if not path or path.startswith("<"):
        return False
    return _norm(path).startswith(_infrastructure_prefixes())


def _stdlib_module(name: str) -> bool:
    top = name.split(".", 1)[0]
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return top in names or top == "builtins"
    mod = sys.modules.get(top)
    return top == "builtins" or (mod is not None and is_stdlib_file(getattr(mod, "__file__", "")
                                                                  or ""))


# --- reading a frame -----------------------------------------------------------------------


def frames_of(frame: types.FrameType | None, limit: int = MAX_FRAMES) -> tuple[FrameInfo, ...]:
    """The stack ending at ``frame``, outermost first, at most ``limit`` innermost frames."""
    out: list[FrameInfo] = []
    while frame is not None and len(out) < limit:
        code = frame.f_code
        out.append(FrameInfo(code.co_filename, frame.f_lineno or code.co_firstlineno,
                             code.co_name))
        frame = frame.f_back
    out.reverse()
    return tuple(out)


def innermost_interesting(frame: types.FrameType | None) -> types.FrameType | None:
    while frame is not None:
        if not is_infrastructure_file(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


_LOADS = frozenset({"LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_FAST_CHECK",
                    "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST"})
_ATTRS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})


@lru_cache(maxsize=512)
def _line_pairs(code: types.CodeType) -> dict[int, tuple[tuple[str, str, int], ...]]:
    """Per source line: (variable, attribute, offset) for each ``var.attr`` load on it."""
    pairs: dict[int, list[tuple[str, str, int]]] = {}
    line = code.co_firstlineno
    prev: dis.Instruction | None = None
    for ins in dis.get_instructions(code):
        pos = getattr(ins, "positions", None)
        if pos is not None and pos.lineno is not None:
            line = pos.lineno
        elif ins.starts_line:
            line = ins.starts_line if isinstance(ins.starts_line, int) else line
        if (prev is not None and ins.opname in _ATTRS and prev.opname in _LOADS
                and isinstance(prev.argval, str) and isinstance(ins.argval, str)):
            pairs.setdefault(line, []).append((prev.argval, ins.argval, ins.offset))
        prev = ins
    return {k: tuple(v) for k, v in pairs.items()}


def call_hint(frame: types.FrameType) -> CallHint | None:
    """What ``frame``'s current line calls into, if that is a third-party object.

    Looks at the ``var.attr`` pairs of the current line (the last one before the current
    instruction first), resolves ``var`` in the frame's locals/globals and names the module
    of the object's type (or of the module itself). Uses ``inspect.getattr_static`` so no
    property or ``__getattr__`` of the library runs in the monitor thread.
    """
    try:
        pairs = _line_pairs(frame.f_code).get(frame.f_lineno or 0, ())
        if not pairs:
            return None
        lasti = frame.f_lasti
        ordered = sorted(pairs, key=lambda p: (p[2] > lasti, -p[2]))
        local_vars = frame.f_locals
        global_vars = frame.f_globals
        for var, attr, _offset in ordered:
            if var in local_vars:
                obj = local_vars[var]
            elif var in global_vars:
                obj = global_vars[var]
            else:
                continue
            if isinstance(obj, types.ModuleType):
                module = getattr(obj, "__name__", "") or ""
                type_name = f"module {module}"
            else:
                cls = type(obj)
                module = getattr(cls, "__module__", "") or ""
                type_name = f"{module}.{getattr(cls, '__qualname__', cls.__name__)}"
                try:
                    inspect.getattr_static(obj, attr)
                except AttributeError:
                    continue
            if not module or module == "__main__" or _stdlib_module(module):
                continue
            if module.split(".", 1)[0] in ("gevent", "greenlet", "patchcheck", "_pytest",
                                           "pytest", "pluggy"):
                continue
            return CallHint(f"{var}.{attr}", module, type_name)
    except Exception:  # a detector never raises into the code it watches
        return None
    return None


def sample_thread(thread_ident: int, at: float, source: str = "") -> Sample | None:
    """Look at another thread's current frame (called from the monitor/sampler thread)."""
    frame = sys._current_frames().get(thread_ident)
    if frame is None:
        return None
    try:
        frames = frames_of(frame)
        target = innermost_interesting(frame)
        hint = call_hint(target) if target is not None else None
        return Sample(at, frames, hint, source)
    finally:
        del frame


@lru_cache(maxsize=1)
def _runner_prefixes() -> tuple[str, ...]:
    out = []
    for name in ("_pytest", "pluggy"):
        mod = sys.modules.get(name)
        path = getattr(mod, "__file__", None)
        if path:
            out.append(_norm(os.path.dirname(path)) + os.sep)
    return tuple(out)


def trim_runner(frames: tuple[FrameInfo, ...]) -> tuple[FrameInfo, ...]:
    """Drop the test runner's outer frames (pytest, pluggy): the stack starts at the test."""
    prefixes = _runner_prefixes()
    if not prefixes:
        return frames
    cut = 0
    for i, f in enumerate(frames):
        if f.file and not f.file.startswith("<") and _norm(f.file).startswith(prefixes):
            cut = i + 1
    return frames[cut:] or frames


def with_source(frames: tuple[FrameInfo, ...]) -> tuple[FrameInfo, ...]:
    """Fill in source lines (main thread: linecache may read files)."""
    import linecache

    return tuple(FrameInfo(f.file, f.line, f.function,
                           linecache.getline(f.file, f.line).strip()) for f in frames)


def format_frames(frames: tuple[FrameInfo, ...], limit: int = 12) -> list[str]:
    """``File "…", line N, in f`` lines, innermost last, like a traceback."""
    lines: list[str] = []
    for f in frames[-limit:]:
        lines.append(f'  File "{f.file}", line {f.line}, in {f.function}')
        if f.text:
            lines.append(f"    {f.text}")
    return lines
