"""Code that runs **inside** child processes of the target interpreter.

Nothing in this folder imports patchcheck, pluggy or packaging: the target interpreter has only
the standard library, gevent/greenlet and the library under test. The tool process runs::

    <python> <this folder>/pc_child.py <spec.json> <result.json>

with this folder as ``sys.path[0]`` (so every module here has a ``pc_`` prefix or the
``patchcheck_probe`` name, to never shadow a library). The child reads the spec, runs one task,
and writes one JSON document to ``result.json`` (atomically: written to ``result.json.tmp`` then
renamed). stdout and stderr belong to the library under test and are only kept as evidence.

The documents are built and read in two modules, one per side: ``pc_protocol.py`` here and
``patchcheck/runner/protocol.py`` in the tool. What both must agree on (the schema versions
``patchcheck.child-spec/N`` and ``patchcheck.child/N``, the task kinds, the control table) is
the data file ``pc_protocol.json``: the tool reads it as a file and never imports child code.

Spec::

    {"schema": "patchcheck.child-spec/2",
     "task": "info" | "import" | "probe" | "control" | "plugins", "args": {...task fields},
     "timeout": seconds, "stack_file": path, "stack_dump_after": seconds, "tmpdir": path}

Result::

    {"schema": "patchcheck.child/2", "task": ..., "ok": true, "data": {...}}
    {"schema": "patchcheck.child/2", "task": ..., "ok": false, "error": "...", "traceback": "..."}

``ok: false`` means the *harness* failed (a patchcheck problem, or a spec of another schema),
not the library: a library's exception is data inside ``data``.
"""
