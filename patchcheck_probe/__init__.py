"""The probe-writing API for the tool's environment: IDEs, mypy and ``help()``.

Probe files say ``from patchcheck_probe import probe``. In the child process the name is the
harness's own copy (``patchcheck/harness/patchcheck_probe.py``, first on ``sys.path``, standard
library only, so probes run in any target interpreter even without patchcheck installed); in
the tool's environment it is this package, which re-exports the very same objects. One
top-level name besides ``patchcheck``, specific to patchcheck, so that editors and type
checkers resolve the import a probe file is written with.
"""
from patchcheck.harness.patchcheck_probe import (
    PROBE_ATTR,
    PROBE_KEYWORDS,
    Context,
    ProbeDefinitionError,
    ProbeInfo,
    Service,
    Skip,
    probe,
)

__all__ = ["probe", "Context", "Service", "Skip", "ProbeInfo", "ProbeDefinitionError",
           "PROBE_ATTR", "PROBE_KEYWORDS"]
