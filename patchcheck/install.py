"""``scan --install``: an isolated, cached virtualenv with gevent plus the requirements.

One virtualenv per key: the base interpreter (its real path and full version), the normalised
requirement lines, and :data:`INSTALL_RECIPE`. It lives under ``<cache>/venvs/<key>/venv``
(``patchcheck.cache.default_cache_dir()``, so ``PATCHCHECK_CACHE_DIR`` moves it) and is reused
while those stay the same. A marker file (``complete.json``) is written only after a build
finished and gevent imports in it; a folder without one (a run killed half-way) is deleted and
built again, never used. A lock file per key makes parallel runs wait for one build instead of
building twice (pip-audit's ``_virtual_env.py`` builds afresh every time; we cache, so we lock).

Installers: ``uv`` when it is on PATH and the user's pip has no package-source configuration
that uv would ignore (uv does not read pip.conf or ``PIP_*``), else ``venv`` + pip. pip reads
the user's pip.conf and ``PIP_*`` itself; we pass nothing that overrides them.

Install failures are per requirement: everything is installed at once first; when that fails,
gevent and then each requirement is installed alone, so the ones that install are kept and each
failure carries pip's own message. Only a failure to install gevent stops the scan.

What pip prints is decided by pip's own log levels, not by filtering its text: pip runs with
``-qq`` (its console shows ERROR and above: the reason an install failed, with a failing build's
output), so its warnings — e.g. one "Location '…' is ignored" line per package for each index of
pip.conf that does not exist — never reach the user. With ``installer_output`` (``scan -v``) pip
runs at its default level and everything it prints is passed on.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchcheck.errors import EnvironmentProblem, UsageError
from patchcheck.files import write_atomic
from patchcheck.locks import LockTimeout, exclusive_lock
from patchcheck.model import Conflict, Pin, Requirement, normalize_name

#: Bump when the way a virtualenv is built changes, so existing ones are rebuilt.
INSTALL_RECIPE = "3"  # 2: the marker records conflicts; 3: remedy packages are added
#: ``auto`` (default), ``uv`` or ``pip``: which installer to use.
INSTALLER_ENV = "PATCHCHECK_INSTALLER"
MARKER_NAME = "complete.json"
MARKER_SCHEMA = "patchcheck.venv/1"
#: How long to wait for another patchcheck building the same virtualenv.
LOCK_TIMEOUT_S = 3600.0
#: How much of pip's output a failure keeps.
ERROR_TAIL_LINES = 15
ERROR_TAIL_CHARS = 2000

# pip settings that change where packages come from or which ones are chosen. uv ignores
# pip.conf and PIP_*, so with any of these set, uv would install something else than the
# user's pip would: we use pip then (see choose_installer).
_PIP_SOURCE_KEYS = frozenset({
    "index-url", "extra-index-url", "no-index", "find-links", "trusted-host", "cert",
    "client-cert", "proxy", "constraint", "only-binary", "no-binary", "prefer-binary", "pre",
    "keyring-provider",
})
# uv's own package-source settings: a user who set these has configured uv, and uv it is.
_UV_SOURCE_ENV = ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_EXTRA_INDEX_URL",
                  "UV_FIND_LINKS", "UV_NO_INDEX")

# Variables that would make the installer write somewhere else than the virtualenv or read
# another environment's packages.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV",
                 "CONDA_PREFIX", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER",
                 "UV_PYTHON", "UV_SYSTEM_PYTHON", "UV_PROJECT_ENVIRONMENT")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class InstallResult:
    """The virtualenv ``scan --install`` scans, and what could not be installed into it."""

    python: str  # the virtualenv's interpreter
    venv: str  # the virtualenv's folder
    installer: str  # "uv" or "pip"
    built: bool  # True when this call built it, False when a complete one was reused
    #: requirement name as written → the installer's message, for each one that failed
    failures: Mapping[str, str] = field(default_factory=dict)
    key: str = ""
    #: requirements that could not be installed together (each went in on its own, and the
    #: installed metadata shows who needs what: see :func:`find_conflicts`)
    conflicts: tuple[Conflict, ...] = ()

    #: the remedy packages (``spec.REMEDY_PACKAGES``) added so their remedies are measured
    remedy_packages: tuple[str, ...] = ()

    @property
    def remedy_note(self) -> str | None:
        """The report's note saying which remedy packages the venv has beyond the list."""
        if not self.remedy_packages:
            return None
        return ("--install added " + ", ".join(self.remedy_packages)
                + " to its virtualenv so the remedies that need them are measured "
                  "(they are not in your requirements)")


@dataclass(frozen=True)
class _Base:
    """The base interpreter, as it reports itself."""

    executable: str  # sys.executable, after any shim (pyenv) dispatched
    real: str  # realpath of the interpreter a venv made from it would point at
    version: str  # sys.version, full
    short: str  # "3.11"


def ensure_environment(
    python: str,
    requirements: Sequence[Requirement],
    *,
    progress: Progress | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    installer: str | None = None,
    refresh: bool = False,
    installer_output: Progress | None = None,
) -> InstallResult:
    """Build (or reuse) the cached virtualenv for ``python`` + ``requirements`` + gevent.

    :param python: the base interpreter the virtualenv is made from.
    :param requirements: what to install besides gevent (gevent itself when listed).
    :param progress: called with one-line notes for stderr.
    :param cache_dir: the cache root (default :func:`patchcheck.cache.default_cache_dir`).
    :param installer: ``auto``, ``uv`` or ``pip`` (default ``$PATCHCHECK_INSTALLER`` or auto).
    :param refresh: build afresh even when a complete virtualenv exists.
    :param installer_output: given (``scan -v``), pip runs at its default verbosity and each
        install's command and complete output are passed to it, line by line; otherwise pip
        prints errors only and nothing of its output is shown unless an install fails.
    :raises EnvironmentProblem: the virtualenv cannot be made, or gevent cannot be installed.
    """
    note: Progress = progress or (lambda text: None)
    base = _describe_base(python)
    lines = requirement_lines(requirements)
    key = environment_key(base.real, base.version, lines)
    root = Path(os.path.abspath(_cache_root(cache_dir))) / "venvs" / f"py{base.short}-{key[:16]}"
    venv = root / "venv"
    marker = root / MARKER_NAME
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create {root}: {exc}",
                                 hint=f"set {_cache_env()} to a writable folder") from exc
    with _locked(root / "lock", note):
        done = None if refresh else _read_marker(marker, key)
        if done is not None and os.path.exists(_venv_python(venv)):
            failures = dict(done.get("failures") or {})
            note(f"reusing the virtualenv {venv} (built {done.get('built_at', '?')})")
            for name, message in failures.items():
                note(f"could not install {name} (in the build of {done.get('built_at', '?')}; "
                     f"delete {root} to try again): {_first_line(message)}")
            conflicts = tuple(Conflict.from_json(c) for c in done.get("conflicts") or ())
            return InstallResult(python=_venv_python(venv), venv=str(venv),
                                 installer=str(done.get("installer", "?")), built=False,
                                 failures=failures, key=key, conflicts=conflicts,
                                 remedy_packages=tuple(done.get("remedy_packages") or ()))
        chosen = choose_installer(installer)
        return _build(base, lines, requirements, root, venv, marker, key, chosen, note,
                      installer_output)


def requirement_lines(requirements: Sequence[Requirement]) -> list[str]:
    """Each requirement as one normalised PEP 508 line, sorted and without repeats.

    Spellings that mean the same (``Six`` / ``six``, ``>=1,<2`` / ``<2,>=1``, marker spacing)
    give the same line, so they share a virtualenv.
    """
    return sorted({_pep508(r) for r in requirements})


def environment_key(base_real: str, base_version: str, lines: Sequence[str]) -> str:
    """sha256 of everything a virtualenv depends on (not patchcheck's version: the recipe's)."""
    data = {"python": base_real, "version": base_version, "requirements": sorted(lines),
            "recipe": INSTALL_RECIPE}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def choose_installer(requested: str | None = None, *, env: Mapping[str, str] | None = None,
                     pip_settings: Mapping[str, str] | None = None) -> str:
    """``uv`` or ``pip``: what ``requested`` (or ``$PATCHCHECK_INSTALLER``) and the machine allow.

    ``auto`` picks uv when it is on PATH, unless pip is configured with package sources
    (index URLs, find-links, constraints, certificates, …) that uv would ignore and uv has
    none of its own (``UV_INDEX_URL``, ``UV_DEFAULT_INDEX``, …): then pip, which reads them.
    """
    env = os.environ if env is None else env
    choice = (requested or env.get(INSTALLER_ENV, "") or "auto").strip().lower()
    if choice not in ("auto", "uv", "pip"):
        raise UsageError(f"{INSTALLER_ENV}={choice!r}: unknown installer",
                         hint="use 'auto', 'uv' or 'pip'")
    if choice == "pip":
        return "pip"
    has_uv = shutil.which("uv", path=env.get("PATH")) is not None
    if choice == "uv":
        if not has_uv:
            raise EnvironmentProblem("installer 'uv' was asked for but uv is not on PATH",
                                     hint=f"install uv, or set {INSTALLER_ENV}=pip")
        return "uv"
    if not has_uv:
        return "pip"
    if any(env.get(name, "").strip() for name in _UV_SOURCE_ENV):
        return "uv"
    settings = pip_config() if pip_settings is None else pip_settings
    if any(_setting_name(k) in _PIP_SOURCE_KEYS for k in settings):
        return "pip"
    return "uv"


def pip_config(python: str | None = None) -> dict[str, str]:
    """pip's configuration (files and ``PIP_*``) as ``pip config list`` shows it; {} if none."""
    try:
        proc = subprocess.run([python or sys.executable, "-m", "pip", "config", "list"],
                              capture_output=True, text=True, timeout=60,
                              env=_installer_env(), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return {}
    if proc.returncode != 0:
        return {}
    return parse_pip_config(proc.stdout)


def parse_pip_config(text: str) -> dict[str, str]:
    """``global.index-url='https://…'`` lines → ``{"global.index-url": "https://…"}``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name.strip()] = value
    return out


# Lines of installer output that never explain a failure. pip's own warnings do not get here
# (it runs with -qq: see _PIP_QUIET); uv has no such level switch that keeps its errors, and
# prints "Using Python 3.x environment at …" and "warning: …" lines on stderr: the one line
# filter left, for uv's output (and pip's under -v, whose full text the user asked to see).
_CHATTER = ("warning", "using python ", "using cpython ")


def error_tail(output: str) -> str:
    """The part of an installer's output that says what went wrong, without its warnings."""
    lines = [ln.rstrip() for ln in output.splitlines()]
    kept = [ln for ln in lines if ln.strip() and not ln.lstrip().lower().startswith(_CHATTER)]
    text = "\n".join(kept[-ERROR_TAIL_LINES:])
    if len(text) > ERROR_TAIL_CHARS:
        text = "…" + text[-ERROR_TAIL_CHARS:]
    return text or "(no output)"


# -- building -----------------------------------------------------------------------------

def _build(base: _Base, lines: list[str], requirements: Sequence[Requirement], root: Path,
           venv: Path, marker: Path, key: str, installer: str, note: Progress,
           echo: Progress | None = None) -> InstallResult:
    started = time.monotonic()
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()  # from here on the folder is half-built until the marker is back
    if venv.exists():
        note(f"removing the incomplete virtualenv {venv}")
        _remove(venv)
    extra = "" if not lines else f" and {len(lines)} requirement{'s' * (len(lines) != 1)}"
    note(f"building a virtualenv with gevent{extra} for Python {base.short} "
         f"({base.executable}) with {installer} in {venv}")
    if installer == "uv":
        pip: list[str] = _make_venv_uv(base, venv, root)
    else:
        pip = _make_venv_pip(base, venv, quiet=echo is None)
    python = _venv_python(venv)

    gevent_line = [] if any(_line_key(ln) == "gevent" for ln in lines) else ["gevent"]
    failures: dict[str, str] = {}
    conflicts: tuple[Conflict, ...] = ()
    ok, output = _install(pip, gevent_line + lines, root, echo)
    if not ok:
        note("installing everything at once failed; installing one requirement at a time")
        first = output
        if gevent_line:
            ok, output = _install(pip, gevent_line, root, echo)
            if not ok:
                raise _gevent_failed(base, output)
        by_line = {_pep508(r): r for r in requirements}
        for line in lines:
            ok, output = _install(pip, [line], root, echo)
            if not ok:
                req = by_line.get(line)
                name = req.name if req is not None else _line_key(line)
                if _line_key(line) == "gevent":
                    raise _gevent_failed(base, output)
                failures[name] = error_tail(output)
                note(f"could not install {name}: {_first_line(failures[name])}")
        # Some (or all) install on their own but not together: a conflict among them. Who
        # needs what is read from what got installed, not from the installer's message.
        conflicts = find_conflicts(installed_metadata(python), requirements,
                                   installer=error_tail(first))
        if not failures and not conflicts:
            conflicts = (Conflict(distribution="", version=None, requires="", required="",
                                  installed=None, installer=error_tail(first)),)
        if conflicts:
            note(f"the requirements cannot all be installed together ({len(conflicts)} "
                 f"conflict{'s' * (len(conflicts) != 1)}: see the report)")
    gevent_version = _check_gevent(python, base)
    remedies = _install_remedy_packages(pip, lines, root, note, echo)
    record = {
        "schema": MARKER_SCHEMA, "key": key, "installer": installer,
        "built_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "base": {"executable": base.executable, "real": base.real, "version": base.version},
        "requirements": lines, "gevent": gevent_version, "failures": failures,
        "conflicts": [c.to_json() for c in conflicts], "recipe": INSTALL_RECIPE,
        "remedy_packages": list(remedies),
    }
    write_atomic(marker, json.dumps(record, indent=2), durable=True)
    note(f"virtualenv ready in {time.monotonic() - started:.1f} s: {python}")
    return InstallResult(python=python, venv=str(venv), installer=installer, built=True,
                         failures=failures, key=key, conflicts=conflicts,
                         remedy_packages=remedies)


# -- conflicts ----------------------------------------------------------------------------

# Runs in the virtualenv's interpreter (standard library only): every installed distribution's
# name, version and Requires-Dist, and the PEP 508 marker environment (packaging's
# default_environment(), which the venv need not have).
_METADATA_SCRIPT = r"""
import json, os, platform, sys
from importlib import metadata
def _impl_version():
    v = sys.implementation.version
    s = "%d.%d.%d" % (v.major, v.minor, v.micro)
    return s + (v.releaselevel[0] + str(v.serial) if v.releaselevel != "final" else "")
env = {"implementation_name": sys.implementation.name,
       "implementation_version": _impl_version(), "os_name": os.name,
       "platform_machine": platform.machine(), "platform_release": platform.release(),
       "platform_system": platform.system(), "platform_version": platform.version(),
       "python_full_version": platform.python_version(),
       "platform_python_implementation": platform.python_implementation(),
       "python_version": ".".join(platform.python_version_tuple()[:2]),
       "sys_platform": sys.platform}
dists = []
for d in metadata.distributions():
    name = d.metadata["Name"]
    if name:
        dists.append({"name": name, "version": d.version, "requires": list(d.requires or ())})
sys.stdout.write(json.dumps({"markers": env, "distributions": dists}))
"""


def installed_metadata(python: str) -> dict[str, Any]:
    """What ``python``'s environment has installed (``{"markers": …, "distributions": […]}``);
    empty when it cannot say (the conflict check is then silent, never wrong)."""
    proc = _run([python, "-I", "-c", _METADATA_SCRIPT], Path(python).parent)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def find_conflicts(metadata: Mapping[str, Any], requirements: Sequence[Requirement], *,
                   installer: str = "") -> tuple[Conflict, ...]:
    """Every Requires-Dist of an installed distribution (its marker evaluated for the
    environment, no extras) that the installed versions do not satisfy, where either side is
    one of ``requirements``: what ``pip check`` reports, as data. Pure.
    """
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508
    from packaging.version import InvalidVersion, Version

    markers = {str(k): str(v) for k, v in (metadata.get("markers") or {}).items()}
    versions: dict[str, str | None] = {}
    for d in metadata.get("distributions") or ():
        versions.setdefault(normalize_name(str(d.get("name", ""))), d.get("version"))
    from patchcheck.verdicts.instrument import pin_applies

    # Only the lines whose marker holds pin anything: Odoo pins gevent once per Python.
    asked = {r.key: r for r in requirements if pin_applies(r, markers)}
    out: list[Conflict] = []
    for d in metadata.get("distributions") or ():
        name = str(d.get("name", ""))
        for line in d.get("requires") or ():
            try:
                req = Pep508(str(line))
                if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
                    continue
            except (InvalidRequirement, InvalidMarker, UndefinedComparison,
                    UndefinedEnvironmentName):
                continue
            needed = normalize_name(req.name)
            if normalize_name(name) not in asked and needed not in asked:
                continue
            have = versions.get(needed)
            try:
                ok = have is not None and (not req.specifier or req.specifier.contains(
                    Version(have), prereleases=True))
            except InvalidVersion:
                continue
            if ok:
                continue
            pins = tuple(Pin(requirement=r.line or r.name + r.specifier, origin=r.origin)
                         for r in (asked.get(normalize_name(name)), asked.get(needed))
                         if r is not None)
            out.append(Conflict(distribution=name, version=d.get("version"),
                                requires=f"{req.name}{req.specifier}", required=req.name,
                                installed=have, pins=pins, installer=installer))
    return tuple(sorted(out, key=lambda c: (normalize_name(c.distribution), c.required)))


def _install_remedy_packages(pip: list[str], lines: Sequence[str], root: Path,
                             note: Progress, echo: Progress | None = None) -> tuple[str, ...]:
    """Add the remedy packages the requirements do not list, each on its own: one that does
    not install (greenify needs a C compiler) only leaves its remedy "not tried"."""
    from patchcheck.spec import REMEDY_PACKAGES

    listed = {_line_key(line) for line in lines}
    added = []
    for name, serves in REMEDY_PACKAGES.items():
        if normalize_name(name) in listed or (serves and not listed & set(serves)):
            continue
        ok, output = _install(pip, [name], root, echo)
        if ok:
            added.append(name)
        else:
            note(f"could not install the remedy package {name} (its remedy will be reported "
                 f"as not tried): {_first_line(error_tail(output))}")
    return tuple(added)


def _make_venv_uv(base: _Base, venv: Path, root: Path) -> list[str]:
    # cwd=root: uv reads project settings (pyproject.toml, uv.toml) from the working folder; the
    # user's project is not what we are building. User-level uv.toml still applies.
    uv = shutil.which("uv") or "uv"
    _run_or_fail([uv, "venv", "--python", base.executable, str(venv)], root,
                 f"uv could not create a virtualenv from {base.executable}",
                 hint=f"set {INSTALLER_ENV}=pip to use venv + pip instead")
    return [uv, "pip", "install", "--python", _venv_python(venv)]


def _make_venv_pip(base: _Base, venv: Path, *, quiet: bool = True) -> list[str]:
    # Without pip: seeding pip into every venv (ensurepip) costs seconds, and pip can install
    # into another interpreter (pip >= 22.3 ``--python``). The venv gets its own pip only when
    # patchcheck's pip cannot run under the target (too old a pip, too old or new a Python).
    _run_or_fail([base.executable, "-m", "venv", "--without-pip", str(venv)], venv.parent,
                 f"{base.executable} -m venv could not create {venv}",
                 hint="install the venv module for this Python (Debian: apt-get install "
                      "python3-venv), or install uv")
    python = _venv_python(venv)
    args = _PIP_INSTALL_ARGS + (_PIP_QUIET if quiet else [])
    if _own_pip_runs_under(base.short):
        return [sys.executable, "-m", "pip", "--python", python] + args
    _run_or_fail([python, "-m", "ensurepip", "--default-pip"], venv.parent,
                 f"could not install pip into {venv}",
                 hint="install the ensurepip module for this Python (Debian: apt-get install "
                      "python3-venv), or install uv")
    return [python, "-m", "pip"] + args


def _own_pip_runs_under(version: str) -> bool:
    """Whether the pip beside patchcheck can install into a Python ``version`` (``--python``).

    Decided from pip's metadata rather than by running ``pip --python X --version``, which
    costs a second or two: pip >= 22.3 has ``--python``, and its Requires-Python says which
    interpreters it runs under (it runs itself inside the target).
    """
    from importlib import metadata

    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        dist = metadata.distribution("pip")
        if Version(dist.version) < Version("22.3"):
            return False
        requires = (dist.metadata.get_all("Requires-Python") or [""])[0]
        return Version(version) in SpecifierSet(requires) if requires else True
    except (metadata.PackageNotFoundError, InvalidVersion, InvalidSpecifier):
        return False


# --no-input: a password prompt for an index would wait forever with our captured stdin.
_PIP_INSTALL_ARGS = ["install", "--no-input", "--disable-pip-version-check",
                     "--progress-bar", "off"]
# pip's -qq: its console shows ERROR and CRITICAL records only (pip/_internal/utils/logging.py,
# setup_logging; a failing build's output is part of its error). Its WARNING records — pip.conf
# index locations that do not exist, deprecations — are dropped by pip itself. Not with --log:
# a log file lowers pip's root level to DEBUG and its stderr handler then shows warnings again.
_PIP_QUIET = ["-qq"]


def _install(command: list[str], lines: list[str], cwd: Path,
             echo: Progress | None = None) -> tuple[bool, str]:
    """Run one install; ``echo`` (``-v``) gets the command and everything it printed (its
    stdout, then its stderr)."""
    if not lines:
        return True, ""
    proc = _run(command + lines, cwd)
    if echo is not None:
        echo("$ " + " ".join(command + lines))
        for line in (proc.stdout + proc.stderr).splitlines():
            echo(line)
    # Both pip and uv write what went wrong to stderr; stdout is only "Collecting …".
    return proc.returncode == 0, proc.stderr if proc.stderr.strip() else proc.stdout


def _check_gevent(python: str, base: _Base) -> str:
    proc = _run([python, "-c", "import gevent, sys; sys.stdout.write(gevent.__version__)"],
                Path(python).parent)
    if proc.returncode != 0:
        raise EnvironmentProblem(
            f"gevent was installed for Python {base.short} but does not import: "
            f"{error_tail(proc.stderr)}",
            hint="pin a gevent release that supports this Python in the requirements")
    return proc.stdout.strip()


def _gevent_failed(base: _Base, output: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"could not install gevent for Python {base.short} ({base.executable}):\n"
        f"{error_tail(output)}",
        hint="check the package index settings (pip config list), or pin a gevent release "
             "that has a wheel for this Python")


# -- helpers ------------------------------------------------------------------------------

def _describe_base(python: str) -> _Base:
    code = ("import json, os, sys; exe = getattr(sys, '_base_executable', '') or sys.executable;"
            "print(json.dumps({'executable': sys.executable, 'real': os.path.realpath(exe),"
            " 'version': sys.version, 'short': '%d.%d' % sys.version_info[:2]}))")
    try:
        proc = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                              timeout=60, env=_installer_env(), stdin=subprocess.DEVNULL)
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        return _Base(str(data["executable"]), str(data["real"]), str(data["version"]),
                     str(data["short"]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, KeyError) as exc:
        raise EnvironmentProblem(f"cannot ask {python} what it is: {exc}",
                                 hint="check that --python names a working interpreter") from exc


def _pep508(r: Requirement) -> str:
    from packaging.markers import InvalidMarker, Marker
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    extras = f"[{','.join(sorted({normalize_name(e) for e in r.extras}))}]" if r.extras else ""
    text = normalize_name(r.name) + extras
    if r.url:
        text += f" @ {r.url}"
    elif r.specifier:
        try:
            text += str(SpecifierSet(r.specifier))
        except InvalidSpecifier:
            text += r.specifier.replace(" ", "")
    if r.marker:
        try:
            marker = str(Marker(r.marker))
        except InvalidMarker:
            marker = r.marker.strip()
        # "name @ url;marker" would make the marker part of the URL: keep the space.
        text += f" ; {marker}"
    return text


def _line_key(line: str) -> str:
    for stop in "[ @;<>=!~":
        line = line.split(stop, 1)[0]
    return normalize_name(line.strip())


def _setting_name(key: str) -> str:
    """``global.index-url`` / ``:env:.index-url`` / ``install.find-links`` → the option."""
    return key.rsplit(".", 1)[-1].strip().lower().replace("_", "-")


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from patchcheck.cache import default_cache_dir

    return default_cache_dir()


def _cache_env() -> str:
    from patchcheck.cache import CACHE_DIR_ENV

    return CACHE_DIR_ENV


def _venv_python(venv: Path) -> str:
    if sys.platform.startswith("win"):
        return str(venv / "Scripts" / "python.exe")
    return str(venv / "bin" / "python")


def _read_marker(marker: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != MARKER_SCHEMA or data.get("key") != key:
        return None
    return data


def _remove(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot remove the incomplete virtualenv {path}: {exc}",
                                 hint=f"delete {path} by hand") from exc


def _installer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    # A user-level "user = true" in pip.conf would make pip refuse to install into a venv.
    env["PIP_USER"] = "0"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, cwd=str(cwd), capture_output=True, text=True,
                              encoding="utf-8", errors="replace", env=_installer_env(),
                              stdin=subprocess.DEVNULL)
    except OSError as exc:
        return subprocess.CompletedProcess(argv, 127, "", f"cannot run {argv[0]}: {exc}")


def _run_or_fail(argv: list[str], cwd: Path, what: str, *, hint: str) -> None:
    proc = _run(argv, cwd)
    if proc.returncode != 0:
        raise EnvironmentProblem(f"{what}:\n{error_tail(proc.stderr + proc.stdout)}", hint=hint)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return (errors or lines or ["(no output)"])[-1]


@contextlib.contextmanager
def _locked(path: Path, note: Progress, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive lock on ``path``, released by the OS if this process dies."""
    try:
        with exclusive_lock(path, timeout=timeout, on_wait=lambda: note(
                f"waiting for another patchcheck that is building {path.parent}")):
            yield
    except LockTimeout:
        raise EnvironmentProblem(f"gave up waiting for the lock {path}",
                                 hint="is another patchcheck still installing? If "
                                      f"not, delete {path.parent}") from None
