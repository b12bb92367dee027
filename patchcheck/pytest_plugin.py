"""The patchcheck pytest plugin (``pytest11`` entry point). Import-light: see issue #5."""
from __future__ import annotations
