"""The ``patch`` setting: the keyword arguments patchcheck passes to ``patch_all()``.

Given as a string (``--patch``, ``PATCHCHECK_PATCH``, or ``patch = "thread=false"`` in a file)
or as a TOML table (``patch = {thread = false}``).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from patchcheck.config.messages import Invalid, describe, did_you_mean, show
from patchcheck.errors import ConfigError

#: ``gevent.monkey.patch_all()``'s keyword parameters (gevent 23.7 .. 26.x), all booleans.
PATCH_ALL_ARGS = (
    "socket", "dns", "time", "select", "thread", "os", "ssl", "subprocess", "sys",
    "aggressive", "Event", "builtins", "signal", "queue", "contextvars",
)  # fmt: skip

#: How a boolean may be spelled in the environment or on the command line.
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


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
        if raw.lower() in TRUE:
            result[name] = True
        elif raw.lower() in FALSE:
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
            hint=did_you_mean(name, PATCH_ALL_ARGS),
        )


def conv_patch(value: Any, text: bool, base: Path) -> dict[str, bool]:
    """A TOML table ``{thread = false}``; strings go through :func:`parse_patch_args`
    (its messages name the bad pair)."""
    if isinstance(value, Mapping):
        out = {}
        for name, flag in value.items():
            if name not in PATCH_ALL_ARGS:
                raise Invalid(
                    f"{name!r} is not a patch_all() argument;"
                    f" expected one of {', '.join(PATCH_ALL_ARGS)}",
                    hint=did_you_mean(str(name), PATCH_ALL_ARGS),
                )
            if not isinstance(flag, bool):
                raise Invalid(f"{name} must be true or false, not {show(flag)}")
            out[name] = flag
        return out
    raise Invalid('expected a table such as {thread = false} or a string "thread=false"')
