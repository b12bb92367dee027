"""The ``patch-signature`` task: the keyword arguments of this gevent's ``patch_all()``.

Read from the target's gevent (never hard-coded in the tool: gevent adds and renames patches
between releases, e.g. ``queue`` and ``contextvars`` in 20.x). Nothing is patched. For each
parameter: its default, and the ``patch_<x>()`` functions that take a keyword of the same name
(``aggressive`` and ``dns`` are modifiers of ``patch_socket``/``patch_select``, not patches of
their own).
"""
import inspect


def run(task):
    from gevent import monkey

    params = []
    patchers = {}
    for attr in dir(monkey):
        fn = getattr(monkey, attr)
        if attr.startswith("patch_") and attr != "patch_all" and callable(fn):
            try:
                patchers[attr[len("patch_"):]] = set(inspect.signature(fn).parameters)
            except (TypeError, ValueError):
                pass
    for name, p in inspect.signature(monkey.patch_all).parameters.items():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue  # **kwargs: passed on to gevent plugins, not a patch
        default = p.default if p.default is not p.empty else None
        params.append({
            "name": name,
            "default": default if isinstance(default, (bool, int, float, str)) else repr(default),
            "boolean": isinstance(default, bool),
            "modifies": sorted(m for m, names in patchers.items() if name in names),
        })
    return {"parameters": params}
