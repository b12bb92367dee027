"""Stable finding codes. A code never changes meaning; retired codes are never reused.

The README's "Finding codes" table is generated from ``CODES`` (and a test checks it).

Each code's severity is its triage (README "Verdicts", issue #10.3): ``ORDER_ONLY`` for what
matters only when the library is imported before ``patch_all()`` (verdict ``order-sensitive``;
``patches-first`` turns them into info), ``SUSPECT`` for the library's own native network I/O
that no probe measured (``suspect``), ``WARNING`` for the other unmeasured risks (``warns``).
A check may lower a finding below its code's severity from typed evidence (PC140 for Rust's
std::net or bundled helpers only: ``NativeCode.io``), never raise it.
"""
from __future__ import annotations

from dataclasses import dataclass

from patchcheck.model import Severity


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    severity: Severity
    title: str
    hint: str


_ALL = [
    # --- targets --------------------------------------------------------------------------
    Code("PC000", "not-installed", Severity.INFO,
         "not installed in the target interpreter",
         "Install it in the target environment, or scan with --install."),
    Code("PC001", "version-mismatch", Severity.INFO,
         "the installed version does not satisfy the requirement",
         "The installed version was scanned; install the required one to scan that."),
    Code("PC002", "install-failed", Severity.INFO,
         "--install could not install the requirement",
         "Fix the requirement or install its build dependencies; the rest of the scan went on."),
    Code("PC003", "instrument", Severity.INFO,
         "part of patchcheck's measuring instrument: not judged as a dependency",
         "gevent keeps the unpatched originals and runs its loop in C on purpose; the controls "
         "measure it (patched sleep, socket and select must cooperate)."),
    Code("PC004", "instrument-incompatible", Severity.WARNING,
         "the measuring instrument does not fit together: gevent's own requirements (greenlet, "
         "Python) are not met",
         "gevent declares which greenlet and Python it needs (Requires-Dist, Requires-Python, "
         "classifiers); the versions measured do not meet them, so neither the measurements nor "
         "your deployment can be trusted. Pin versions that gevent accepts."),
    Code("PC005", "instrument-known-bug", Severity.WARNING,
         "the gevent version has a known bug fixed in a later release",
         "Upgrade gevent to the release named in the finding (gevent's changelog has the "
         "details)."),
    # --- import checks --------------------------------------------------------------------
    Code("PC100", "import-breaks", Severity.BREAKS,
         "import fails after patch_all()",
         "The library cannot be imported in a gevent-patched process. Check the traceback; "
         "if it needs a primitive gevent removes (select.epoll, selectors.EpollSelector), "
         "patch with select=False or use a gevent-aware alternative."),
    Code("PC101", "import-crash", Severity.BREAKS,
         "the process crashed while importing under patch_all()",
         "A native extension crashed. Try importing it without gevent to see whether the "
         "crash is gevent-related; report it upstream with the stack dump."),
    Code("PC102", "import-hang", Severity.BREAKS,
         "import did not finish under patch_all()",
         "Importing the library hangs once gevent is patched (often a lock or a native thread "
         "waiting on a greenlet). The stack dump shows where it waits."),
    Code("PC103", "import-exits", Severity.BREAKS,
         "the process ended during import",
         "Something called sys.exit() or os._exit() while importing the library."),
    # A warning, not "breaks": what fails without gevent says nothing about gevent, but the
    # library could not be checked, which the user must see.
    Code("PC104", "import-fails-unpatched", Severity.WARNING,
         "import fails even without gevent",
         "The library does not import in this environment at all, patched or not: check its "
         "installation and dependencies (this is not a gevent problem)."),
    Code("PC105", "patch-fails", Severity.BREAKS,
         "patch_all() fails after importing the library",
         "patch_all() raised once the library was imported; a gevent plugin or the library's "
         "import-time side effects conflict with patching."),
    Code("PC106", "leaves-processes", Severity.WARNING,
         "importing the library leaves processes running",
         "A process the library started at import (a helper, a daemon that detached with "
         "setsid() or a double fork) was still running when the check ended; patchcheck killed "
         "it. In your app it outlives its parent: check what starts it and how it is stopped."),
    Code("PC110", "monkeypatch-warning", Severity.ORDER_ONLY,
         "gevent warns when the library is imported before patch_all()",
         "Call gevent.monkey.patch_all() before anything else imports the library (first lines "
         "of your entry point, gunicorn -k gevent, or python -m gevent.monkey)."),
    Code("PC111", "import-warning", Severity.INFO,
         "the import emits warnings under patch_all()",
         "Usually harmless; shown so that -W error does not surprise you."),
    Code("PC120", "stale-reference", Severity.ORDER_ONLY,
         "keeps unpatched originals when imported before patch_all()",
         "The library captured the original (blocking) objects at import time. Patch before "
         "importing it: call gevent.monkey.patch_all() first."),
    Code("PC121", "order-sensitive", Severity.ORDER_ONLY,
         "behaves differently depending on import order",
         "Import the library only after gevent.monkey.patch_all()."),
    Code("PC130", "native-thread", Severity.WARNING,
         "starts native threads at import",
         "Native threads are invisible to gevent; code in them that touches gevent objects "
         "(sockets, locks) can raise LoopExit or 'cannot switch to a different thread'."),
    # --- native code (patchcheck.targets.native) -----------------------------------------
    Code("PC140", "native-blocking-calls", Severity.SUSPECT,
         "native code calls blocking libc functions",
         "A C extension that does its own I/O cannot be monkey-patched and may block the hub. "
         "A probe measures it; without one, treat it as a risk."),
    Code("PC141", "native-client-library", Severity.SUSPECT,
         "links a network client library",
         "A C client library (libpq, libmysqlclient, libcurl, …) does its own I/O and blocks "
         "the hub unless the library offers an async/wait-callback hook."),
    # --- gevent plugins (patchcheck.inventory) -------------------------------------------
    Code("PC150", "gevent-plugin", Severity.INFO,
         "registers a gevent plugin (runs inside every patch_all())",
         "Its code runs inside every gevent.monkey.patch_all() in this environment; make sure "
         "that is intended (see 'patchcheck plugins')."),
    Code("PC151", "gevent-plugin-fails", Severity.BREAKS,
         "gevent plugin fails to load",
         "gevent loads every gevent.plugins.* entry point inside patch_all() and does not catch "
         "errors: with this plugin installed, every patch_all() in the environment raises. Fix or "
         "uninstall the distribution that provides it."),
    # --- probes (the hub meter) ----------------------------------------------------------
    Code("PC200", "probe-blocks", Severity.BLOCKS,
         "blocks the gevent hub while waiting on I/O",
         "Every greenlet stops while this call waits. Use the remedy shown, or run the call "
         "on gevent's threadpool."),
    Code("PC201", "probe-cpu-bound", Severity.BLOCKS,
         "holds the hub while burning CPU",
         "The call computes without yielding; run it on a threadpool or split the work."),
    Code("PC202", "probe-breaks", Severity.BREAKS,
         "the call fails under patch_all()",
         "The library raises when used in a patched process; see the exception."),
    Code("PC203", "probe-hangs", Severity.BREAKS,
         "the call hangs under patch_all()",
         "The call never returned; the stacks show where it waits."),
    Code("PC204", "probe-cooperates", Severity.INFO,
         "cooperates: the hub kept running while the call waited",
         ""),
    Code("PC205", "probe-skipped", Severity.INFO,
         "probe skipped: a service it needs is unavailable",
         "Start the service or point patchcheck at one (see the message)."),
    Code("PC206", "order-blocks", Severity.ORDER_ONLY,
         "blocks when imported before patch_all()",
         "The library chooses its I/O strategy at import time; import it only after patching."),
    Code("PC207", "probe-inconclusive", Severity.WARNING,
         "probe inconclusive: nothing about the library was measured",
         "A probe problem, not the library's: the call did not wait on the slow peer, or the "
         "probe's own file or factory failed (the phase says which). Fix the probe."),
    Code("PC208", "remedy-applied", Severity.INFO,
         "the project's source applies the known remedy",
         "The remedy was found in the project's source (with ast) and measured by the probe; "
         "the plain measurement's finding is waived when the remedy measured cooperates."),
    # Measured, not assumed (issue #10): the app imported the library before patching, which
    # the import-before check warned about (PC110, PC120) or the probe declares (botocore).
    Code("PC209", "order-breaks", Severity.ORDER_ONLY,
         "breaks when imported before patch_all()",
         "The call works when gevent patches first and fails when the library is imported "
         "before gevent.monkey.patch_all() (ssl imported too early: RecursionError, gevent#1016). "
         "Call patch_all() before anything imports the library (first lines of your entry point, "
         "gunicorn -k gevent, or python -m gevent.monkey)."),
    # --- the team's own test suite (the watchdog's report, scan --stalls) ---------------
    Code("PC210", "suite-stalls", Severity.BLOCKS,
         "blocked the hub in your test suite",
         "The watchdog saw this library stall the hub while your tests ran (the stack says "
         "where). Use the remedy shown, or run the call on gevent's threadpool; waive it with "
         "a reason if the tests exercise a path production never takes."),
    # --- knowledge -----------------------------------------------------------------------
    Code("PC300", "known-issue", Severity.INFO,
         "known issue (not measured here)",
         ""),
]

CODES: dict[str, Code] = {c.code: c for c in _ALL}


def code(code_id: str) -> Code:
    return CODES[code_id]
