"""The hub-stall watchdog: measure, attribute and report gevent hub stalls in a live process.

Used by the pytest plugin (``--patchcheck-watch``) and by ``patchcheck.cooperative()``. Unlike
the scan harness this code runs *in* the process being watched, which is patched by gevent.
Modules: ``stacks`` (reading a stalled frame from another thread), ``attribution``
(file → distribution), ``meter`` (heartbeat and stack sources), ``watchdog`` (windows per
test phase), ``scoped`` (the ``cooperative()`` context manager), ``report`` (records,
summary, JSON), ``patching`` (``--patchcheck-patch`` and what was imported too early).
"""
from __future__ import annotations

from typing import Any

__all__ = ["NotCooperative", "StallRecord", "Watchdog", "cooperative"]

_LAZY = {
    "cooperative": "patchcheck.watch.scoped",
    "NotCooperative": "patchcheck.watch.scoped",
    "StallRecord": "patchcheck.watch.report",
    "Watchdog": "patchcheck.watch.watchdog",
}


def __getattr__(name: str) -> Any:
    # Lazy: ``import patchcheck.watch`` must not import gevent.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
