"""Standard library: time.sleep."""
from __future__ import annotations

from patchcheck_probe import probe


@probe("stdlib.time.sleep", distributions=["stdlib"], wait=0.3)
def stdlib_time_sleep(ctx):
    """time.sleep(wait)."""
    import time

    return lambda: time.sleep(ctx.wait)
