"""Code that runs **inside** child processes of the target interpreter.

Nothing in this folder imports patchcheck, pluggy or packaging: the target interpreter has only
the standard library, gevent/greenlet and the library under test. The tool process runs::

    <python> <this folder>/pc_child.py <spec.json> <result.json>

with this folder as ``sys.path[0]`` (so every module here has a ``pc_`` prefix or the
``patchcheck_probe`` name, to never shadow a library). The child reads the spec, runs one task,
and writes one JSON document to ``result.json`` (atomically: written to ``result.json.tmp`` then
renamed). stdout and stderr belong to the library under test and are only kept as evidence.

Spec (``patchcheck.child-spec/1``)::

    {"schema": "patchcheck.child-spec/1", "task": "info" | "import" | "probe" | "control",
     "timeout": seconds, "stack_file": path, ...task fields}

Result (``patchcheck.child/1``)::

    {"schema": "patchcheck.child/1", "task": ..., "ok": true, "data": {...}}
    {"schema": "patchcheck.child/1", "task": ..., "ok": false, "error": "...", "traceback": "..."}

``ok: false`` means the *harness* failed (a patchcheck problem), not the library: a library's
exception is data inside ``data``.
"""
from __future__ import annotations

from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent
CHILD_SCRIPT = HARNESS_DIR / "pc_child.py"
SPEC_SCHEMA = "patchcheck.child-spec/1"
RESULT_SCHEMA = "patchcheck.child/1"
