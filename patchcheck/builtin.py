"""The built-in plugin: hookimpls for what patchcheck ships, registered like any plugin.

Keep this a thin list of hookimpls; the work lives in the modules they call.
"""
from __future__ import annotations

from collections.abc import Sequence

from patchcheck.hookspecs import hookimpl
from patchcheck.spec import ProbeSpec


@hookimpl
def patchcheck_add_probes() -> Sequence[ProbeSpec]:
    """The built-in probes: the ``probes/`` folder (installed as ``patchcheck._builtin_probes``)."""
    from patchcheck.probeloader import builtin_probe_dir, load_probe_dir

    return load_probe_dir(builtin_probe_dir(), origin="builtin")
