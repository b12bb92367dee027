"""The plan's standard-library target, on in-memory data: when the row is added, which probes
it gets, what its cache key covers, and the reserved name."""
from __future__ import annotations

import pytest

from patchcheck.errors import UsageError
from patchcheck.model import Environment, InstalledDistribution, Requirement, TargetInfo
from patchcheck.plan import ScanRequest, make_plan
from patchcheck.spec import ProbeSpec


def _target(gevent: str = "26.9.0", **installed: InstalledDistribution) -> TargetInfo:
    env = Environment(python="/venv/bin/python", python_version="3.11.7",
                      implementation="CPython", platform="linux-x86_64",
                      gevent_version=gevent, greenlet_version="3.5.6")
    return TargetInfo(environment=env, markers={}, installed=installed)


def _dist(name: str) -> InstalledDistribution:
    return InstalledDistribution(requested=name, name=name, version="1.0",
                                 import_names=(name,), native_files=())


def _probe(name: str, *dists: str) -> ProbeSpec:
    return ProbeSpec(name=name, distributions=dists, path=f"/p/{name}.py", function="f")


PROBES = [_probe("stdlib.os.read", "stdlib"), _probe("stdlib.old", "python"),
          _probe("redis.get", "redis")]


def _plan(*names: str, target: TargetInfo | None = None, **kw):
    request = ScanRequest(python="/venv/bin/python",
                          requirements=tuple(Requirement(n, origin="req.txt:1") for n in names),
                          **kw)
    return make_plan(request, target or _target(redis=_dist("redis"), six=_dist("six")), PROBES)


def test_scan_stdlib_plans_one_row_with_its_probes() -> None:
    (item,) = _plan("stdlib").items
    assert item.stdlib and not item.implicit and item.dist.version == "3.11.7"
    # "stdlib" and the older "python" both target the standard library
    assert [p.name for p in item.probes] == ["stdlib.os.read", "stdlib.old"]


def test_a_scan_that_runs_probes_adds_the_row_as_implicit() -> None:
    keys = [(i.key, i.implicit) for i in _plan("redis").items]
    assert keys == [("redis", False), ("stdlib", True)]


def test_no_row_without_probes_or_when_skipped() -> None:
    assert [i.key for i in _plan("six").items] == ["six"]  # no probe runs for six
    assert [i.key for i in _plan("redis", run_probes=False).items] == ["redis"]
    assert [i.key for i in _plan("redis", skip=("stdlib",)).items] == ["redis"]


def test_the_cache_key_covers_gevent() -> None:
    def key(gevent: str) -> str | None:
        plan = _plan("stdlib", target=_target(gevent))
        return plan.items[0].cache_key

    assert key("26.9.0") and key("26.9.0") == key("26.9.0") != key("25.1.0")


def test_stdlib_with_a_version_is_not_the_standard_library() -> None:
    with pytest.raises(UsageError, match=r"req\.txt:1: 'stdlib>=1'"):
        make_plan(ScanRequest(python="p", requirements=(
            Requirement("stdlib", specifier=">=1", origin="req.txt:1", line="stdlib>=1"),)),
            _target(), PROBES)


def test_an_installed_distribution_called_stdlib_is_not_scanned_with_all() -> None:
    plan = _plan(target=_target(stdlib=_dist("stdlib"), redis=_dist("redis")),
                 all_installed=True)
    assert [(i.key, i.stdlib) for i in plan.items] == [("redis", False), ("stdlib", True)]
    assert any("called 'stdlib' is installed" in n for n in plan.notes)
