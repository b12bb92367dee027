"""patchcheck: which of your dependencies cooperate with ``gevent.monkey.patch_all()``.

The tool process never imports gevent-patched code; everything that touches a target library
runs in child processes of the target interpreter (see ``patchcheck.harness``).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0.dev0"

__all__ = ["NotCooperative", "__version__", "cooperative", "probes_from_dir",
           "probes_from_file"]

#: The public probe loaders for plugin authors (``patchcheck_add_probes`` returns their
#: result): ``probes_from_dir(path)``, ``probes_from_file(path)`` → ``list[ProbeSpec]``.
_PROBE_LOADERS = {"probes_from_dir": "load_probe_dir", "probes_from_file": "load_probe_file"}


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): ``import patchcheck`` stays light; gevent is imported only when the
    # context manager is used.
    if name in ("cooperative", "NotCooperative"):
        from patchcheck.watch import scoped

        return getattr(scoped, name)
    if name in _PROBE_LOADERS:
        from patchcheck import probeloader

        return getattr(probeloader, _PROBE_LOADERS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
