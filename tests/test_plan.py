"""The plan layer on in-memory data: no subprocess, no gevent."""
from __future__ import annotations

from pathlib import Path

from patchcheck.cache import file_digest
from patchcheck.model import Environment, InstalledDistribution, Requirement, TargetInfo
from patchcheck.plan import ScanRequest, make_plan
from patchcheck.spec import ProbeSpec

MARKERS = {"sys_platform": "linux", "python_version": "3.11", "os_name": "posix",
           "platform_system": "Linux", "implementation_name": "cpython",
           "platform_machine": "x86_64", "platform_python_implementation": "CPython",
           "python_full_version": "3.11.7", "implementation_version": "3.11.7",
           "platform_release": "", "platform_version": ""}


def dist(name: str, *imports: str, version: str = "1.0") -> InstalledDistribution:
    return InstalledDistribution(requested=name, name=name, version=version,
                                 import_names=imports or (name.replace("-", "_"),),
                                 native_files=(), files_digest=f"digest-{name}-{version}")


def target(*dists: InstalledDistribution) -> TargetInfo:
    env = Environment(python="/venv/bin/python", python_version="3.11.7",
                      implementation="CPython", platform="linux-x86_64",
                      gevent_version="26.9.0", greenlet_version="3.5.6")
    return TargetInfo(environment=env, markers=MARKERS,
                      installed={d.key: d for d in dists})


def probe(name: str, *dists: str, path: str = "/nonexistent/probe.py") -> ProbeSpec:
    return ProbeSpec(name=name, distributions=dists, path=path, function="f")


def req(name: str, marker: str | None = None, line: int = 1) -> Requirement:
    return Requirement(name=name, marker=marker, origin=f"requirements.txt:{line}", line=name)


def test_markers_are_evaluated_for_the_target_and_duplicates_dropped() -> None:
    request = ScanRequest(python="/venv/bin/python", requirements=(
        req("redis", line=1), req("pywin32", "sys_platform == 'win32'", line=2),
        req("Redis", line=3)))
    plan = make_plan(request, target(dist("redis")), ())
    assert [i.requirement.origin for i in plan.items] == ["requirements.txt:1"]
    assert [(m.name, m.origin) for m in plan.marker_skipped] == [("pywin32",
                                                                  "requirements.txt:2")]
    assert any("already" in n for n in plan.notes)
    assert not any("pywin32" in n for n in plan.notes)  # one summary line, from the report


def test_not_installed_and_skipped_requirements() -> None:
    request = ScanRequest(python="p", requirements=(req("redis"), req("nope"), req("celery")),
                          skip=("Celery",))
    plan = make_plan(request, target(dist("redis"), dist("celery")), ())
    assert [(i.key, i.dist is not None) for i in plan.items] == [("redis", True),
                                                                ("nope", False)]


def test_probes_match_normalised_distribution_names_and_only_when_asked() -> None:
    specs = [probe("pg.sleep", "psycopg2_binary"), probe("r.blpop", "redis")]
    request = ScanRequest(python="p", requirements=(req("psycopg2-binary"),))
    # the probe runs, so the standard library's row follows (test_plan_stdlib.py)
    item, stdlib = make_plan(request, target(dist("psycopg2-binary", "psycopg2")), specs).items
    assert [p.name for p in item.probes] == ["pg.sleep"] and item.modules == ("psycopg2",)
    assert stdlib.stdlib and stdlib.implicit
    no_probes = replace_request(request, run_probes=False)
    (item,) = make_plan(no_probes, target(dist("psycopg2-binary", "psycopg2")), specs).items
    assert item.probes == ()


def replace_request(request: ScanRequest, **changes: object) -> ScanRequest:
    from dataclasses import replace

    return replace(request, **changes)  # type: ignore[arg-type]


def test_import_name_overrides() -> None:
    request = ScanRequest(python="p", requirements=(req("Pillow"),),
                          import_names={"pillow": ("PIL",)})
    (item,) = make_plan(request, target(dist("Pillow", "PIL", "_imaging_stub")), ()).items
    assert item.modules == ("PIL",)


def test_all_installed_adds_the_environment_but_not_the_instrument() -> None:
    request = ScanRequest(python="p", all_installed=True, requirements=(req("redis"),))
    plan = make_plan(request, target(dist("redis"), dist("gevent"), dist("greenlet"),
                                     dist("zope.event", "zope"), dist("requests")), ())
    assert [i.key for i in plan.items] == ["redis", "requests"]
    assert any("gevent, greenlet, zope.event" in n for n in plan.notes)


def test_cache_key_follows_what_the_result_depends_on(tmp_path: Path) -> None:
    probe_file = tmp_path / "p.py"
    probe_file.write_text("v1")
    specs = [probe("redis.blpop", "redis", path=str(probe_file))]
    base = ScanRequest(python="p", requirements=(req("redis"),))

    def key(request: ScanRequest = base, *dists: InstalledDistribution) -> str | None:
        digests = {p.path: file_digest(p.path) for p in specs}  # the engine reads the files
        items = make_plan(request, target(*(dists or (dist("redis"),))), specs,
                          probe_digests=digests).items
        return items[0].cache_key  # then the standard library's row when probes run

    first = key()
    assert first == key()  # stable
    assert key(replace_request(base, patch_args={"thread": False})) != first
    assert key(base, dist("redis", version="2.0")) != first
    assert key(replace_request(base, run_probes=False)) != first
    probe_file.write_text("v2")  # a changed probe is a new measurement
    assert key() != first
    assert key(replace_request(base, use_cache=False)) is None


def test_gevent_in_the_requirements_is_the_instrument_not_a_dependency() -> None:
    request = ScanRequest(python="p", requirements=(req("gevent"), req("redis")))
    plan = make_plan(request, target(dist("gevent"), dist("redis")),
                     [probe("gevent.sleep", "gevent")])
    gevent, redis = plan.items
    assert gevent.instrument and not gevent.probes and gevent.cache_key is None
    assert [i.key for i in plan.installed] == ["redis"]


def test_deps_follow_requires_dist_with_markers_and_extras() -> None:
    from dataclasses import replace

    celery = replace(dist("celery"), requires=(
        "kombu>=5", "billiard", "pywin32; sys_platform == 'win32'",
        "redis>=4; extra == 'redis'", "gevent; extra == 'gevent'"))
    kombu = replace(dist("kombu"), requires=("amqp>=5",))
    installed = target(celery, kombu, dist("amqp"), dist("redis"), dist("gevent"),
                       dist("pywin32"))
    request = ScanRequest(python="p", include_deps=True, requirements=(
        Requirement(name="celery", extras=("redis", "gevent"), origin="requirements.txt:1"),))
    plan = make_plan(request, installed, ())
    assert [i.key for i in plan.items] == ["celery", "kombu", "redis", "amqp"]
    kombu_item = plan.items[1]
    assert kombu_item.requirement.origin == "dependency of celery"
    assert kombu_item.requirement.specifier == ">=5"
    # billiard is required but not installed: said, not scanned; gevent is the instrument
    assert any("billiard (required by celery)" in n for n in plan.notes)
    without = make_plan(replace(request, include_deps=False), installed, ())
    assert [i.key for i in without.items] == ["celery"]


def test_the_plan_is_pure() -> None:
    """Importing the plan loads neither a subprocess API nor the runner (a fresh interpreter,
    since this one has imported everything already)."""
    import subprocess
    import sys

    code = ("import sys, patchcheck.plan; print('subprocess' in sys.modules, "
            "any(m.startswith('patchcheck.runner') for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.split() == ["False", "False"]
