"""patchcheck: which of your dependencies cooperate with ``gevent.monkey.patch_all()``.

The tool process never imports gevent-patched code; everything that touches a target library
runs in child processes of the target interpreter (see ``patchcheck.harness``).
"""
from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
