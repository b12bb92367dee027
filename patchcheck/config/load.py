"""Precedence: command line > ``PATCHCHECK_*`` environment > config file > defaults.

A setting from a higher-precedence source replaces the lower one whole (``--patch`` does not
merge with the file's ``patch`` table). Every value is validated by its converter
(``patchcheck.config.keys``) and an error names where it came from.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from patchcheck.config.files import PYPROJECT, find_config_file, read_config
from patchcheck.config.keys import CONVERTERS, absolute
from patchcheck.config.messages import Invalid, describe, did_you_mean
from patchcheck.config.origin import TABLE, ConfigOrigin
from patchcheck.config.patch import FALSE, TRUE, parse_patch_args
from patchcheck.config.settings import SETTING_NAMES, Settings
from patchcheck.config.waivers import parse_waivers
from patchcheck.errors import ConfigError

#: Environment variables and the setting each one sets.
ENV_VARS: Mapping[str, str] = {
    "PATCHCHECK_FAIL_ON": "fail_on",
    "PATCHCHECK_TIMEOUT": "timeout",
    "PATCHCHECK_JOBS": "jobs",
    "PATCHCHECK_PATCH": "patch",
    "PATCHCHECK_PYTHON": "python",
    "PATCHCHECK_FORMAT": "format",
    "PATCHCHECK_NO_CACHE": "cache",  # inverted
    "PATCHCHECK_PATCHES_FIRST": "patches_first",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def settings_from_table(
    raw: Mapping[str, Any], origin: ConfigOrigin
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a config table: returns (setting name -> value, setting name -> file:line)."""
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
                hint=did_you_mean(key.replace("_", "-"), known),
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
        return CONVERTERS[name](value, text, base)
    except Invalid as exc:
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
            if raw.lower() in TRUE:
                values[name] = False
            elif raw.lower() in FALSE:
                values[name] = True
            else:
                raise ConfigError(
                    f"{describe(var, raw)}: expected one of {', '.join(TRUE + FALSE)}"
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
    """
    cli = cli or {}
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else Path(cwd)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {name: "default" for name in SETTING_NAMES}
    config_file: Path | None = None
    if config_path is not None:
        path = absolute(config_path, cwd)
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
