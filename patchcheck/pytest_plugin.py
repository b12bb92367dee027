"""The patchcheck pytest plugin (``pytest11`` entry point ``patchcheck``).

Two features, each off unless asked for (a run that uses neither gets no output, no patching,
no threads; ``-p no:patchcheck`` removes the plugin altogether):

* ``--patchcheck-scan FILE`` — scan results as test items (``patchcheck._pytest_scan``);
* ``--patchcheck-watch`` — a hub-stall watchdog over the suite's own tests, for suites that
  run under gevent (``python -m gevent.monkey --module pytest`` or ``--patchcheck-patch``),
  plus the ``patchcheck_cooperative`` fixture (``patchcheck.watch``).

Import-light: this module imports pytest (and its leaf `_pytest_warnings`) only; everything
else is imported inside hooks.
Settings precedence: marker > command line > ini (pytest-timeout's convention).
"""
from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from patchcheck.watch.report import StallRecord

DEFAULT_MAX_BLOCK_MS = 100.0
# patchcheck.model.FAIL_ON_LEVELS, spelled out: this module imports pytest only
FAIL_ON_CHOICES = ("untested", "order-sensitive", "warns", "suspect", "blocks", "breaks",
                   "never")

MARKER_HELP = ("patchcheck(max_block_ms=None, allow_blocking=False): hub-stall watchdog "
               "settings for this test (--patchcheck-watch); allow_blocking=True opts it out")


class HubStallWarning(pytest.PytestWarning):
    """A test stalled the gevent hub for longer than allowed (``--patchcheck-watch`` without
    ``--patchcheck-strict``). Turn it into an error with
    ``-W error::patchcheck.pytest_plugin.HubStallWarning``."""


class _State:
    """The plugin's per-run state, kept in ``config.stash``."""

    def __init__(self) -> None:
        self.watch = False
        self.strict = False
        self.limit_ms = DEFAULT_MAX_BLOCK_MS
        self.watchdog: Any = None
        self.watch_note: str | None = None  # why the watchdog is not measuring here
        self.report_path: Path | None = None
        self.patch_report: Any = None
        self.records: list[StallRecord] = []
        self.watched_tests = 0
        self.workers_reported = 0
        self.scan: Any = None  # patchcheck._pytest_scan.ScanState


STATE_KEY = pytest.StashKey[_State]()
PATCH_KEY = pytest.StashKey[Any]()  # PatchReport from pytest_load_initial_conftests
ITEM_STALLS = pytest.StashKey[dict]()  # when → list[StallRecord]
ITEM_FAILED = pytest.StashKey[set]()  # phases we failed ourselves (strict)


# --- options ---------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("patchcheck", "patchcheck: gevent compatibility of dependencies")
    group.addoption(
        "--patchcheck-scan", action="append", default=[], metavar="FILE",
        dest="patchcheck_scan",
        help="scan the requirements in FILE (requirements.txt, pyproject.toml, uv.lock, "
             "pylock.toml, or a requirement string) and add one test item per requirement; "
             "repeatable")
    parser.addini("patchcheck_requirements", type="linelist", default=[],
                  help="requirements files to scan as test items (like --patchcheck-scan)")
    group.addoption(
        "--patchcheck-fail-on", choices=FAIL_ON_CHOICES, default=None,
        dest="patchcheck_fail_on",
        help="scan items fail at this verdict or worse (default: fail-on from "
             "[tool.patchcheck], else 'blocks')")
    parser.addini("patchcheck_fail_on", default="",
                  help="like --patchcheck-fail-on")
    group.addoption(
        "--patchcheck-watch", action="store_true", default=None, dest="patchcheck_watch",
        help="measure gevent hub stalls during every test (the run must be gevent-patched)")
    parser.addini("patchcheck_watch", type="bool", default=False,
                  help="like --patchcheck-watch")
    group.addoption(
        "--patchcheck-max-block-ms", type=float, default=None, metavar="MS",
        dest="patchcheck_max_block_ms",
        help=f"longest hub stall a test may cause (default {DEFAULT_MAX_BLOCK_MS:g})")
    parser.addini("patchcheck_max_block_ms", default="",
                  help="like --patchcheck-max-block-ms")
    group.addoption(
        "--patchcheck-strict", action="store_true", default=None, dest="patchcheck_strict",
        help="a stall over the limit fails the test (default: a HubStallWarning)")
    parser.addini("patchcheck_strict", type="bool", default=False,
                  help="like --patchcheck-strict")
    group.addoption(
        "--patchcheck-watch-report", default=None, metavar="FILE",
        dest="patchcheck_watch_report",
        help="write every stall (test, duration, library, stack, remedy) as JSON to FILE")
    parser.addini("patchcheck_watch_report", default="",
                  help="like --patchcheck-watch-report")
    group.addoption(
        "--patchcheck-patch", action="store_true", default=None, dest="patchcheck_patch",
        help="call gevent.monkey.patch_all() at the earliest point pytest allows and report "
             "modules imported before it")
    parser.addini("patchcheck_patch", type="bool", default=False,
                  help="like --patchcheck-patch")


def _flag(config: pytest.Config, name: str) -> bool:
    value = config.getoption(name)
    return bool(value) if value is not None else bool(config.getini(name))


def _is_xdist_controller(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput"):
        return False
    ns = config.known_args_namespace if hasattr(config, "known_args_namespace") else None
    n = getattr(config.option, "numprocesses", None)
    if n is None and ns is not None:
        n = getattr(ns, "numprocesses", None)
    tx = getattr(config.option, "tx", None) or (getattr(ns, "tx", None) if ns else None)
    return bool(n) or bool(tx)


def _is_worker_process() -> bool:
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


# --- patching, as early as a plugin can ----------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    ns = early_config.known_args_namespace
    wanted = getattr(ns, "patchcheck_patch", None)
    if wanted is None:
        try:
            wanted = bool(early_config.getini("patchcheck_patch"))
        except (ValueError, KeyError):
            wanted = False
    if not wanted:
        return
    if not _is_worker_process() and (getattr(ns, "numprocesses", None) or getattr(ns, "tx", None)):
        # The xdist controller only talks to workers (with threads): it stays unpatched;
        # each worker gets --patchcheck-patch too and patches itself here.
        return
    from patchcheck.watch.patching import patch_now

    early_config.stash[PATCH_KEY] = patch_now(
        _configured_patch_args(early_config),
        how="patched by --patchcheck-patch (pytest_load_initial_conftests)")


def _configured_patch_args(config: pytest.Config) -> dict[str, bool]:
    """The ``patch`` setting ([tool.patchcheck] / PATCHCHECK_PATCH): the app's patch_all()
    arguments, so the suite is patched the way the app is."""
    from patchcheck.config import load_settings
    from patchcheck.errors import PatchcheckError

    try:
        return dict(load_settings({}, cwd=Path(config.invocation_params.dir)).patch)
    except PatchcheckError as exc:
        raise pytest.UsageError(f"patchcheck: {exc.message}") from None


# --- configure -------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", "patchcheck_scan: a patchcheck scan item "
                                       "(--patchcheck-scan)")
    state = _State()
    config.stash[STATE_KEY] = state
    workerinput = getattr(config, "workerinput", None)
    if workerinput and workerinput.get("patchcheck_patch") and PATCH_KEY not in config.stash:
        from patchcheck.watch.patching import patch_now

        # Later than --patchcheck-patch would (conftests are imported): the header says what.
        config.stash[PATCH_KEY] = patch_now(
            _configured_patch_args(config),
            how="patched in the xdist worker (its controller runs under gevent)")
    state.patch_report = config.stash.get(PATCH_KEY, None)
    _configure_scan(config, state)
    _configure_watch(config, state)


def _configure_scan(config: pytest.Config, state: _State) -> None:
    sources: list[tuple[str, Path]] = []
    invocation = Path(config.invocation_params.dir)
    for arg in config.getoption("patchcheck_scan") or ():
        sources.append((arg, invocation))
    if not sources:
        base = config.inipath.parent if config.inipath else config.rootpath
        for arg in config.getini("patchcheck_requirements") or ():
            sources.append((arg, base))
    if not sources:
        return
    from patchcheck._pytest_scan import ScanState

    fail_on = config.getoption("patchcheck_fail_on") or config.getini("patchcheck_fail_on") or None
    if fail_on and fail_on not in FAIL_ON_CHOICES:
        raise pytest.UsageError(f"ini patchcheck_fail_on = {fail_on!r}: expected one of "
                                + ", ".join(FAIL_ON_CHOICES))
    state.scan = ScanState(config, sources, fail_on, patch_report=state.patch_report)


def _parse_ms(value: Any, where: str) -> float:
    try:
        ms = float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{where} = {value!r}: expected a number of milliseconds, "
                                "e.g. 100") from None
    if ms <= 0:
        raise pytest.UsageError(f"{where} = {value!r}: must be greater than 0")
    return ms


def _configure_watch(config: pytest.Config, state: _State) -> None:
    if not _flag(config, "patchcheck_watch"):
        return
    state.watch = True
    config.pluginmanager.register(_Recorder(config, state), "patchcheck-recorder")
    state.strict = _flag(config, "patchcheck_strict")
    cli = config.getoption("patchcheck_max_block_ms")
    if cli is not None:
        state.limit_ms = _parse_ms(cli, "--patchcheck-max-block-ms")
    elif config.getini("patchcheck_max_block_ms"):
        state.limit_ms = _parse_ms(config.getini("patchcheck_max_block_ms"),
                                   "ini patchcheck_max_block_ms")
    report = config.getoption("patchcheck_watch_report") or config.getini(
        "patchcheck_watch_report")
    if report:
        base = Path(config.invocation_params.dir) if config.getoption(
            "patchcheck_watch_report") else (config.inipath.parent if config.inipath
                                             else config.rootpath)
        state.report_path = Path(base, report)
    if _is_xdist_controller(config):
        state.watch_note = "pytest-xdist controller: the workers watch, stalls are " \
                           "summarised here"
        return
    from patchcheck.watch.meter import gevent_state

    patched, why = gevent_state()
    if not patched:
        state.watch_note = (f"not watching: {why}; run 'python -m gevent.monkey --module "
                            "pytest …' or add --patchcheck-patch")
        return
    from patchcheck.watch.watchdog import Watchdog

    state.watchdog = Watchdog(state.limit_ms, rootdir=config.rootpath)
    state.watchdog.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None and state.watchdog is not None:
        state.watchdog.stop()
        state.watchdog = None


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return []
    lines: list[str] = []
    if state.patch_report is not None:
        lines += state.patch_report.header_lines()
    if state.watch:
        mode = "strict (stalls fail tests)" if state.strict else "warn"
        if state.watchdog is not None:
            sources = state.watchdog.sources_description or "heartbeat only"
            lines.append(f"patchcheck: watching hub stalls over {state.limit_ms:g} ms, {mode}, "
                         f"stacks from the {sources}")
        elif state.watch_note:
            lines.append(f"patchcheck: {state.watch_note}")
    return lines


# --- scan items --------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or state.scan is None:
        return
    from patchcheck._pytest_scan import make_collectors

    # Through pytest's own collection: each collector's report reaches the terminal (the
    # "collected N items" count, --co) and every plugin, as a file's would.
    new: list[pytest.Item] = []
    for collector in make_collectors(session, state.scan):
        new.extend(session.genitems(collector))
    items[:0] = new


# --- the watchdog, per test phase ---------------------------------------------------------


def _limit_for(item: pytest.Item, state: _State) -> float | None:
    """The stall limit for this test in ms, or None when it opted out (marker > CLI > ini)."""
    marker = item.get_closest_marker("patchcheck")
    if marker is not None:
        if marker.kwargs.get("allow_blocking"):
            return None
        value = marker.kwargs.get("max_block_ms", marker.args[0] if marker.args else None)
        if value is not None:
            return _parse_ms(value, f"{item.nodeid}: @pytest.mark.patchcheck(max_block_ms)")
    return state.limit_ms


def _watched(item: pytest.Item, when: str) -> Generator[None, Any, Any]:
    state = item.config.stash.get(STATE_KEY, None)
    wd = state.watchdog if state is not None else None
    limit = None
    if state is not None and wd is not None and not getattr(item, "_patchcheck_unwatched", False) \
            and not item.get_closest_marker("patchcheck_scan"):
        limit = _limit_for(item, state)
    if limit is None or state is None or wd is None:
        return (yield)
    if when == "setup":
        state.watched_tests += 1
    wd.open(limit)
    try:
        result = yield
    except BaseException:
        _keep(item, when, wd.close(test=item.nodeid, phase=when))
        raise
    records = wd.close(test=item.nodeid, phase=when)
    if records:
        _keep(item, when, records)
        _judge(item, when, records, state)
    return result


def _keep(item: pytest.Item, when: str, records: list[StallRecord]) -> None:
    if records:
        item.stash.setdefault(ITEM_STALLS, {}).setdefault(when, []).extend(records)


def _judge(item: pytest.Item, when: str, records: list[StallRecord], state: _State) -> None:
    from patchcheck.watch.judging import failure_text, warning_text

    if state.strict:
        item.stash.setdefault(ITEM_FAILED, set()).add(when)
        pytest.fail(failure_text(records, when), pytrace=False)
    item.warn(HubStallWarning(warning_text(records, when)))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _watched(item, "setup"))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _watched(item, "call"))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Any) -> Generator[None, Any, Any]:
    return (yield from _watched(item, "teardown"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, Any]:
    report = yield
    by_phase = item.stash.get(ITEM_STALLS, None)
    records = by_phase.get(call.when) if by_phase else None
    if records:
        # JSON-able, so it reaches the xdist controller with the report
        report.patchcheck_stalls = [r.to_json() for r in records]
        if call.when not in item.stash.get(ITEM_FAILED, set()):
            from patchcheck.watch.judging import report_section

            report.sections.append((f"patchcheck hub stalls ({call.when})",
                                    report_section(records)))
    return report


class _Recorder:
    """Registered only under --patchcheck-watch: collects the stalls every test report
    carries (from this process or, under pytest-xdist, from the workers)."""

    def __init__(self, config: pytest.Config, state: _State) -> None:
        self.config = config
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "patchcheck_stalls", None)
        if not data:
            return
        from patchcheck.watch.report import StallRecord

        for entry in data:
            try:
                self.state.records.append(StallRecord.from_json(entry))
            except (KeyError, TypeError, ValueError):
                continue

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller → worker: a controller started under ``python -m gevent.monkey``
        asks its workers (fresh interpreters, not patched) to patch themselves."""
        from patchcheck.watch.meter import gevent_state

        if gevent_state()[0]:
            node.workerinput["patchcheck_patch"] = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.state.watched_tests += int(output.get("patchcheck_watched", 0) or 0)
        self.state.workers_reported += 1

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workeroutput"):
            self.config.workeroutput["patchcheck_watched"] = self.state.watched_tests
        if self.state.report_path is not None and not hasattr(self.config, "workerinput"):
            _write_watch_report(self.config, self.state)


def _write_watch_report(config: pytest.Config, state: _State) -> None:
    assert state.report_path is not None
    from patchcheck.watch.report import write_watch_report

    write_watch_report(state.report_path, state.records, limit_ms=state.limit_ms,
                       strict=state.strict, watched_tests=state.watched_tests,
                       note=state.watch_note,
                       patching=(state.patch_report.to_json()
                                 if state.patch_report is not None else None))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    if state.scan is not None and state.scan.notes:
        terminalreporter.section("patchcheck scan notes")
        for note in state.scan.notes:
            terminalreporter.line(note)
    if not state.watch:
        return
    from patchcheck.watch.report import summary_lines

    if state.records:
        terminalreporter.section("patchcheck: hub stalls by library")
        for line in summary_lines(state.records):
            terminalreporter.line(line)
    elif state.watched_tests:
        terminalreporter.line(f"patchcheck: no hub stall over {state.limit_ms:g} ms in "
                              f"{state.watched_tests} watched test(s)")
    elif state.watchdog is not None or state.workers_reported:
        terminalreporter.line("patchcheck: no test was watched"
                              + (" (were the workers patched? use --patchcheck-patch)"
                                 if state.workers_reported else ""))
    if state.report_path is not None:
        terminalreporter.line(f"patchcheck: stall report written to {state.report_path}")


# --- the fixture -----------------------------------------------------------------------------


@pytest.fixture
def patchcheck_cooperative(request: pytest.FixtureRequest) -> Any:
    """A factory for ``patchcheck.cooperative()`` with this test's limit as the default::

        def test_client(patchcheck_cooperative):
            with patchcheck_cooperative():          # or (max_block_ms=20)
                client.get(url)

    Raises ``patchcheck.NotCooperative`` (an ``AssertionError``) naming the stall, its stack
    and the library when the block stalled the gevent hub for longer than the limit.
    """
    from patchcheck.watch.scoped import cooperative

    state = request.config.stash.get(STATE_KEY, None)
    default = DEFAULT_MAX_BLOCK_MS
    if state is not None:
        default = _limit_for(request.node, state) or state.limit_ms
    if state is None or not state.watch:
        cli = request.config.getoption("patchcheck_max_block_ms")
        if cli is not None:
            default = float(cli)

    def make(max_block_ms: float | None = None) -> Any:
        return cooperative(max_block_ms or default, rootdir=request.config.rootpath)

    return make
