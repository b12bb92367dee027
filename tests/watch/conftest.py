"""Fixtures for the watchdog tests: a distribution that blocks the hub, for real pytest runs."""
from __future__ import annotations

import textwrap

import pytest


@pytest.fixture
def blocklib(pytester: pytest.Pytester) -> pytest.Pytester:
    """An installed-looking distribution ``blocklib-dist`` (import name ``blocklib``) on the
    pythonpath, whose ``wait()`` blocks the hub with the original ``time.sleep`` — the way a C
    driver or a library that captured ``time.sleep`` before patching would."""
    site = pytester.mkdir("site")
    pkg = site / "blocklib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""\
        from gevent.monkey import get_original

        _sleep = get_original("time", "sleep")


        def wait(seconds):
            _sleep(seconds)
        """))
    info = site / "blocklib_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: blocklib-dist\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("blocklib\n")
    (info / "RECORD").write_text("blocklib/__init__.py,,\nblocklib_dist-1.0.dist-info/METADATA,,\n"
                                 "blocklib_dist-1.0.dist-info/RECORD,,\n")
    pytester.makeini("[pytest]\npythonpath = site\n")
    return pytester


