"""Settings: defaults < config file < ``PATCHCHECK_*`` environment < command line.

Pure and file-only: reads one TOML file, never runs anything. Every value a user can get wrong
is validated here, so an error names the file, the line (found by searching the key in the file
text), the key and the value, the way pytest-timeout's ``_validate_*`` helpers do::

    pyproject.toml:14: [tool.patchcheck] fail-on = 'blocky': expected one of untested, warns,
    blocks, breaks, never

The config file is ``[tool.patchcheck]`` in the nearest ``pyproject.toml`` that has that table,
or a standalone ``patchcheck.toml`` (top-level keys) in the same directories, walking up from the
working directory; ``patchcheck.toml`` wins when a directory has both. ``--config FILE`` names
one explicitly.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from patchcheck.errors import ConfigError
from patchcheck.model import FAIL_ON_LEVELS, normalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from patchcheck.verdicts.waivers import Waiver

PYPROJECT = "pyproject.toml"
STANDALONE = "patchcheck.toml"
TABLE: tuple[str, ...] = ("tool", "patchcheck")
ENV_PREFIX = "PATCHCHECK_"

#: ``gevent.monkey.patch_all()``'s keyword parameters (gevent 23.7 .. 26.x), all booleans.
PATCH_ALL_ARGS = (
    "socket", "dns", "time", "select", "thread", "os", "ssl", "subprocess", "sys",
    "aggressive", "Event", "builtins", "signal", "queue", "contextvars",
)  # fmt: skip

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved and validated. Paths are absolute."""

    fail_on: str = "blocks"  # a key of FAIL_ON_LEVELS
    timeout: float = 60.0  # seconds per child process
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    patch: Mapping[str, bool] = field(default_factory=dict)  # patch_all(**patch)
    probe_paths: tuple[Path, ...] = ()
    services: Mapping[str, str] = field(default_factory=dict)  # name -> loopback URL
    #: normalised distribution name -> import names that replace detection
    import_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()
    baseline: Path | None = None
    format: str = "table"
    output: Path | None = None
    python: str | None = None  # a path (made absolute) or a command name such as "python3.12"
    cache: bool = True
    skip: tuple[str, ...] = ()  # normalised distribution names not to scan
    #: the config file that was read, if any
    config_file: Path | None = field(default=None, compare=False)
    #: setting name -> where its value came from ("pyproject.toml:14", "PATCHCHECK_JOBS",
    #: "--timeout", "default"); for messages such as "timeout 5 (from PATCHCHECK_TIMEOUT)"
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)


#: Settings a config file, the command line or the environment may set.
SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name not in ("config_file", "origins"))


# --- where a value came from --------------------------------------------------------------


def _header_re(parts: tuple[str, ...], *, double: bool = False) -> re.Pattern[str]:
    """Matches the ``[a.b]`` (or ``[[a.b]]``) header line, spaces around dots allowed."""
    dotted = r"\s*\.\s*".join(re.escape(p) for p in parts)
    return re.compile(rf"^\s*\[\[\s*{dotted}\s*\]\]" if double
                      else rf"^\s*\[\s*{dotted}\s*\](?!\])")


@dataclass(frozen=True)
class ConfigOrigin:
    """A config file and its text, to put ``file:line`` and the table name in messages."""

    path: Path
    text: str
    table: tuple[str, ...] = TABLE  # () for patchcheck.toml's top-level keys
    display: str = ""  # the path as shown in messages (relative to cwd when possible)

    @property
    def shown(self) -> str:
        return self.display or str(self.path)

    @property
    def header(self) -> str:
        """``[tool.patchcheck] `` or ``""`` for top-level keys."""
        return f"[{'.'.join(self.table)}] " if self.table else ""

    def line_of(self, key: str, *, array: str | None = None, index: int = 0) -> int | None:
        """The 1-based line where ``key`` is set, searched in the text (best effort).

        ``array``/``index`` look inside the index-th ``[[<table>.<array>]]`` block (``key=""``
        gives the block's own line). None when the key cannot be found.
        """
        lines = self.text.splitlines()
        if array is not None:
            blocks = [i for i, line in enumerate(lines)
                      if _header_re((*self.table, array), double=True).match(line)]
            if index >= len(blocks):
                return self.line_of(array)  # waivers = [{...}] written inline
            start = blocks[index]
            return (self._find_key(lines, key, start + 1) if key else None) or start + 1
        if not self.table:
            found = self._find_key(lines, key, 0)
        else:
            starts = [i for i, line in enumerate(lines) if _header_re(self.table).match(line)]
            found = self._find_key(lines, key, starts[0] + 1) if starts else None
        if found is None:  # a [<table>.<key>] sub-table or [[<table>.<key>]] array
            sub = _header_re((*self.table, key))
            sub_array = _header_re((*self.table, key), double=True)
            found = next((i + 1 for i, line in enumerate(lines)
                          if sub.match(line) or sub_array.match(line)), None)
        return found

    @staticmethod
    def _find_key(lines: list[str], key: str, start: int) -> int | None:
        """The first ``key = ...`` (or dotted ``key.x = ...``) from ``start`` to the next header."""
        key_re = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*[=.]""")
        for j in range(start, len(lines)):
            if lines[j].lstrip().startswith("["):
                return None
            if key_re.match(lines[j]):
                return j + 1
        return None

    def where(self, key: str, *, array: str | None = None, index: int = 0) -> str:
        """``pyproject.toml:14`` (or just the file when the key cannot be found)."""
        line = self.line_of(key, array=array, index=index)
        return f"{self.shown}:{line}" if line else self.shown


def show(value: Any) -> str:
    """A value as it appears in messages: strings quoted, long values cut."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Path):
        text = repr(str(value))
    elif isinstance(value, (_dt.date, _dt.time)):
        text = value.isoformat()  # as TOML writes it
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(origin: str, value: Any) -> str:
    """How a value is named in a message, by where it came from.

    ``--fail-on 'x'`` (command line), ``PATCHCHECK_FAIL_ON='x'`` (environment),
    ``pyproject.toml:3: [tool.patchcheck] fail-on = 'x'`` (a file).
    """
    if origin.startswith("-"):
        return f"{origin} {show(value)}"
    if origin.startswith(ENV_PREFIX):
        return f"{origin}={show(value)}"
    return f"{origin} = {show(value)}"


class _Invalid(Exception):
    """A converter's complaint: what was expected (the caller adds where and what)."""

    def __init__(self, expected: str, hint: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint


# --- --patch / PATCHCHECK_PATCH --------------------------------------------------------------


def parse_patch_args(text: str, origin: str) -> dict[str, bool]:
    """Parse ``"thread=false,os=false"`` into ``{"thread": False, "os": False}``.

    ``origin`` names where the text came from (``--patch``, ``PATCHCHECK_PATCH`` or a
    ``file:line: [table] key`` prefix); it starts the error message.
    """
    result: dict[str, bool] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name:
            raise ConfigError(
                f"{describe(origin, text)}: expected name=true|false pairs separated by commas,"
                f" not {item!r}",
                hint="for example: thread=false,os=false",
            )
        _check_patch_name(name, origin, text)
        if name in result:
            raise ConfigError(f"{describe(origin, text)}: {name!r} is given twice")
        if raw.lower() in _TRUE:
            result[name] = True
        elif raw.lower() in _FALSE:
            result[name] = False
        else:
            raise ConfigError(
                f"{describe(origin, text)}: {name} must be true or false, not {raw!r}"
            )
    return result


def _check_patch_name(name: str, origin: str, value: Any) -> None:
    if name not in PATCH_ALL_ARGS:
        raise ConfigError(
            f"{describe(origin, value)}: {name!r} is not a patch_all() argument;"
            f" expected one of {', '.join(PATCH_ALL_ARGS)}",
            hint=_did_you_mean(name, PATCH_ALL_ARGS),
        )


def _did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else None


# --- converters: raw value -> typed value, or _Invalid --------------------------------------
# ``text`` is True for values from the environment or a command line given as strings.


def _conv_fail_on(value: Any, text: bool, base: Path) -> str:
    if isinstance(value, str) and value in FAIL_ON_LEVELS:
        return value
    raise _Invalid(f"expected one of {', '.join(FAIL_ON_LEVELS)}")


def _conv_timeout(value: Any, text: bool, base: Path) -> float:
    expected = "expected a number of seconds greater than 0"
    if text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _Invalid(expected) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(expected)
    if not value > 0 or value != value or value == float("inf"):
        raise _Invalid(expected)
    return float(value)


def _conv_jobs(value: Any, text: bool, base: Path) -> int:
    expected = "expected a whole number of parallel jobs, 1 or more"
    if text and isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise _Invalid(expected) from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(expected)
    return value


def _conv_bool(value: Any, text: bool, base: Path) -> bool:
    if text and isinstance(value, str):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
    if isinstance(value, bool):
        return value
    raise _Invalid("expected true or false")


def _conv_str(value: Any, text: bool, base: Path) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise _Invalid("expected a non-empty string")


def _conv_path(value: Any, text: bool, base: Path) -> Path:
    if isinstance(value, Path) or (isinstance(value, str) and value.strip()):
        return _absolute(value, base)
    raise _Invalid("expected a path (a non-empty string)")


def _conv_python(value: Any, text: bool, base: Path) -> str:
    # A bare command name ("python3.12") is looked up on PATH by the runner; anything with a
    # separator is a path, relative to where it was written.
    if isinstance(value, Path):
        return str(_absolute(value, base))
    value = _conv_str(value, text, base)
    if os.sep in value or (os.altsep and os.altsep in value) or value.startswith("~"):
        return str(_absolute(value, base))
    return value


def _conv_probe_paths(value: Any, text: bool, base: Path) -> tuple[Path, ...]:
    items = _str_list(value, text, "expected a list of folder or file paths")
    paths = []
    for item in items:
        path = _absolute(item, base)
        if not path.exists():
            raise _Invalid(f"{path} does not exist", hint="create it or fix the path")
        paths.append(path)
    return tuple(paths)


def _conv_skip(value: Any, text: bool, base: Path) -> tuple[str, ...]:
    items = _str_list(value, text, "expected a list of distribution names")
    return tuple(dict.fromkeys(normalize_name(i) for i in items))


def _conv_patch(value: Any, text: bool, base: Path) -> dict[str, bool]:
    # Strings are handled by parse_patch_args (its messages name the bad pair).
    if isinstance(value, Mapping):
        out = {}
        for name, flag in value.items():
            if name not in PATCH_ALL_ARGS:
                raise _Invalid(
                    f"{name!r} is not a patch_all() argument;"
                    f" expected one of {', '.join(PATCH_ALL_ARGS)}",
                    hint=_did_you_mean(str(name), PATCH_ALL_ARGS),
                )
            if not isinstance(flag, bool):
                raise _Invalid(f"{name} must be true or false, not {show(flag)}")
            out[name] = flag
        return out
    raise _Invalid('expected a table such as {thread = false} or a string "thread=false"')


_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _conv_services(value: Any, text: bool, base: Path) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Invalid('expected a table of name = "URL", e.g. {postgresql = "postgresql://127.0.0.1:5432/postgres"}')
    out = {}
    for name, url in value.items():
        if not isinstance(url, str) or not url.strip():
            raise _Invalid(f"{name} must be a URL string, not {show(url)}")
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            raise _Invalid(f"{name} = {url!r} is not a valid URL") from None
        if not parts.scheme:
            raise _Invalid(
                f"{name} = {url!r} has no scheme",
                hint="write it as a URL, e.g. postgresql://127.0.0.1:5432/postgres",
            )
        # DESIGN.md hard rule: only loopback is ever contacted. A unix socket URL has no host.
        if host and not _is_loopback(host):
            raise _Invalid(
                f"{name} = {url!r}: only loopback hosts (127.0.0.1, ::1, localhost) may be used",
                hint="patchcheck never contacts other machines; run the server locally",
            )
        out[str(name)] = url
    return out


_IMPORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _conv_import_names(value: Any, text: bool, base: Path) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise _Invalid('expected a table of distribution = ["module", ...]')
    out = {}
    for dist, names in value.items():
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise _Invalid(f"{dist} must be a list of module names, not {show(names)}")
        for name in names:
            if not isinstance(name, str) or not _IMPORT_NAME.match(name):
                raise _Invalid(f"{dist}: {show(name)} is not a module name")
        out[normalize_name(str(dist))] = tuple(names)
    return out


def _conv_waivers(value: Any, text: bool, base: Path) -> tuple[Any, ...]:
    # Files go through parse_waivers (it needs the origin for line numbers); the command line
    # may pass ready Waiver objects.
    from patchcheck.verdicts.waivers import Waiver

    if isinstance(value, (list, tuple)) and all(isinstance(w, Waiver) for w in value):
        return tuple(value)
    raise _Invalid("expected a list of waiver tables")


def _str_list(value: Any, text: bool, expected: str) -> list[str]:
    if isinstance(value, (str, Path)):
        value = value.split(",") if text and isinstance(value, str) else [value]
    if not isinstance(value, (list, tuple)):
        raise _Invalid(expected)
    out = []
    for item in value:
        if isinstance(item, Path):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise _Invalid(expected)
        out.append(item.strip())
    return out


def _absolute(value: str | os.PathLike[str], base: Path) -> Path:
    path = Path(value).expanduser()
    return Path(os.path.normpath(base / path))


Converter = Callable[[Any, bool, Path], Any]

_CONVERTERS: dict[str, Converter] = {
    "fail_on": _conv_fail_on,
    "timeout": _conv_timeout,
    "jobs": _conv_jobs,
    "patch": _conv_patch,
    "probe_paths": _conv_probe_paths,
    "services": _conv_services,
    "import_names": _conv_import_names,
    "waivers": _conv_waivers,
    "baseline": _conv_path,
    "format": _conv_str,
    "output": _conv_path,
    "python": _conv_python,
    "cache": _conv_bool,
    "skip": _conv_skip,
}

#: Environment variables and the setting each one sets.
ENV_VARS: Mapping[str, str] = {
    "PATCHCHECK_FAIL_ON": "fail_on",
    "PATCHCHECK_TIMEOUT": "timeout",
    "PATCHCHECK_JOBS": "jobs",
    "PATCHCHECK_PATCH": "patch",
    "PATCHCHECK_PYTHON": "python",
    "PATCHCHECK_FORMAT": "format",
    "PATCHCHECK_NO_CACHE": "cache",  # inverted
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# --- finding and reading the file -------------------------------------------------------------


def find_config_file(cwd: Path) -> tuple[Path, tuple[str, ...]] | None:
    """The nearest config file walking up from ``cwd``, with the table to read in it.

    In each directory ``patchcheck.toml`` wins over ``pyproject.toml``; a ``pyproject.toml``
    without ``[tool.patchcheck]`` is passed over (like ruff and pytest's ini discovery).
    """
    for directory in (cwd, *cwd.parents):
        standalone = directory / STANDALONE
        if standalone.is_file():
            return standalone, ()
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject, TABLE
    return None


def _has_table(pyproject: Path) -> bool:
    # Cheap text test first, then a real parse, so an unrelated broken pyproject.toml is not
    # our error; one that mentions [tool.patchcheck] and fails to parse is.
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not re.search(r"tool\s*\.\s*patchcheck|\[\s*tool\s*\][^\[]*patchcheck", text):
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return True  # let read_config report it with line and column
    return isinstance(data.get("tool"), dict) and "patchcheck" in data["tool"]


def _display(path: Path, cwd: Path) -> str:
    return os.path.relpath(path, cwd) if path.is_relative_to(cwd) else str(path)


def read_config(
    path: Path, table: tuple[str, ...], cwd: Path
) -> tuple[dict[str, Any], ConfigOrigin]:
    """Parse ``path`` and return the settings table (raw TOML values) and its origin."""
    shown = _display(path, cwd)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}: config file not found", hint="check the path given to --config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_message(shown, str(exc)), hint="fix the TOML syntax") from None
    origin = ConfigOrigin(path=path, text=text, table=table, display=shown)
    node: Any = data
    for part in table:
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(
                f"{shown}: no [{'.'.join(table)}] table",
                hint=f"add a [{'.'.join(table)}] table, or point --config at a patchcheck.toml",
            )
        node = node[part]
    if not isinstance(node, dict):
        raise ConfigError(f"{shown}: {'.'.join(table)} must be a table, not {show(node)}")
    return node, origin


def _toml_message(shown: str, message: str) -> str:
    # tomllib puts the position in the message: "Invalid value (at line 3, column 11)"
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if match:
        return f"{shown}:{match[1]}:{match[2]}: invalid TOML: {message[: match.start()]}"
    match = re.search(r"\s*\(at end of document\)\s*$", message)
    if match:
        return f"{shown}: invalid TOML at end of document: {message[: match.start()]}"
    return f"{shown}: invalid TOML: {message}"


def settings_from_table(
    raw: Mapping[str, Any], origin: ConfigOrigin
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a config table: returns (setting name -> value, setting name -> file:line)."""
    from patchcheck.verdicts.waivers import parse_waivers

    base = origin.path.parent
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    spelled: dict[str, str] = {}
    known = sorted({n.replace("_", "-") for n in SETTING_NAMES})
    for key, value in raw.items():
        name = key.replace("-", "_")
        at = origin.where(key)
        label = f"{at}: {origin.header}{key}"
        if name not in SETTING_NAMES:
            raise ConfigError(
                f"{describe(label, value)}: unknown key; expected one of {', '.join(known)}",
                hint=_did_you_mean(key.replace("_", "-"), known),
            )
        if name in spelled:
            raise ConfigError(
                f"{describe(label, value)}: {key!r} and {spelled[name]!r} both set {name}",
                hint="keep one spelling",
            )
        spelled[name] = key
        if name == "waivers":
            values[name] = tuple(parse_waivers(value, origin))
        elif name == "patch" and isinstance(value, str):
            values[name] = parse_patch_args(value, label)
        else:
            values[name] = _convert(name, value, label, text=False, base=base)
        where[name] = at
    return values, where


def _convert(name: str, value: Any, label: str, *, text: bool, base: Path) -> Any:
    try:
        return _CONVERTERS[name](value, text, base)
    except _Invalid as exc:
        raise ConfigError(f"{describe(label, value)}: {exc.expected}", hint=exc.hint) from None


def _from_env(env: Mapping[str, str], cwd: Path) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for var, name in ENV_VARS.items():
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            continue  # an empty variable counts as unset, as for most tools
        raw = raw.strip()
        if name == "patch":
            values[name] = parse_patch_args(raw, var)
        elif var == "PATCHCHECK_NO_CACHE":
            if raw.lower() in _TRUE:
                values[name] = False
            elif raw.lower() in _FALSE:
                values[name] = True
            else:
                raise ConfigError(
                    f"{describe(var, raw)}: expected one of {', '.join(_TRUE + _FALSE)}"
                )
        else:
            values[name] = _convert(name, raw, var, text=True, base=cwd)
        where[name] = var
    return values, where


def _from_cli(cli: Mapping[str, Any], cwd: Path) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for key, value in cli.items():
        if value is None:
            continue  # argparse's "not given"
        name = key
        if key == "no_cache":
            if not value:
                continue
            name, value = "cache", False
        if name not in SETTING_NAMES:
            # A programming error in the caller, not something a user typed.
            raise TypeError(f"load_settings() got an unknown command-line setting {key!r}")
        flag = _flag("no_cache" if key == "no_cache" else name)
        if name == "patch" and isinstance(value, str):
            values[name] = parse_patch_args(value, flag)
        elif name == "patch" and isinstance(value, (list, tuple)):
            # --patch given several times: merge, later wins
            merged: dict[str, bool] = {}
            for item in value:
                merged.update(parse_patch_args(item, flag))
            values[name] = merged
        else:
            values[name] = _convert(name, value, flag, text=True, base=cwd)
        where[name] = flag
    return values, where


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Resolve every setting: command line > ``PATCHCHECK_*`` environment > file > defaults.

    :param cli: setting name -> value from the command line; ``None`` values mean "not given".
        Strings are parsed as the environment's are (``"5"`` for ``timeout``); ``patch`` may be
        ``"thread=false,os=false"`` or a list of such strings; ``no_cache=True`` means
        ``cache=False``.
    :param env: the environment (``os.environ`` when None).
    :param cwd: where relative command-line paths start and config discovery begins.
    :param config_path: ``--config FILE``; when None the file is discovered from ``cwd``.
    :raises ConfigError: with the file, line, key and value of the first bad setting.

    A setting from a higher-precedence source replaces the lower one whole (``--patch`` does
    not merge with the file's ``patch`` table).
    """
    cli = cli or {}
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else Path(cwd)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {name: "default" for name in SETTING_NAMES}
    config_file: Path | None = None
    if config_path is not None:
        path = _absolute(config_path, cwd)
        table = TABLE if path.name == PYPROJECT else ()
        found: tuple[Path, tuple[str, ...]] | None = (path, table)
    else:
        found = find_config_file(cwd)
    if found is not None:
        config_file, table = found
        raw, origin = read_config(config_file, table, cwd)
        tool = raw.get("tool")
        if not table and set(raw) == {"tool"} and isinstance(tool, dict) and "patchcheck" in tool:
            # --config ci.toml written in pyproject style
            raw, origin = read_config(config_file, TABLE, cwd)
        file_values, file_where = settings_from_table(raw, origin)
        values.update(file_values)
        origins.update(file_where)
    for source in (_from_env(env, cwd), _from_cli(cli, cwd)):
        values.update(source[0])
        origins.update(source[1])
    return Settings(**values, config_file=config_file, origins=origins)
