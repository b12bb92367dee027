"""patchcheck: which of your dependencies cooperate with ``gevent.monkey.patch_all()``.

The tool process never imports gevent-patched code; everything that touches a target library
runs in child processes of the target interpreter (see ``patchcheck.harness``).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0.dev0"

__all__ = ["NotCooperative", "__version__", "cooperative"]


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): ``import patchcheck`` stays light; gevent is imported only when the
    # context manager is used.
    if name in ("cooperative", "NotCooperative"):
        from patchcheck.watch import scoped

        return getattr(scoped, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
