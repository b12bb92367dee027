"""The ``waivers`` setting: validating ``[[tool.patchcheck.waivers]]`` tables into
:class:`~patchcheck.verdicts.waivers.Waiver` objects (which the verdict layer applies)."""
from __future__ import annotations

import datetime as _dt
from typing import Any

from patchcheck.config.messages import show
from patchcheck.errors import ConfigError
from patchcheck.verdicts.waivers import Waiver

#: Keys a waiver table may have.
WAIVER_KEYS = ("distribution", "codes", "reason", "expires")


def parse_waivers(raw: Any, origin: Any) -> list[Waiver]:
    """Validate the ``waivers`` array of a config file.

    :param raw: the TOML value (a list of tables).
    :param origin: a :class:`~patchcheck.config.origin.ConfigOrigin` (``file:line``) or a
        plain string naming the source.
    :raises ConfigError: on a missing reason, a bad date, an unknown key, a wrong type.
    """
    if not isinstance(raw, list):
        raise ConfigError(
            f"{_label(origin, 'waivers')} = {show(raw)}: expected a list of tables",
            hint="write each waiver as a [[tool.patchcheck.waivers]] table",
        )
    waivers = []
    for index, entry in enumerate(raw):
        where = _where(origin, "", index)
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{_entry(origin, index, where)} = {show(entry)}: expected a table with"
                " distribution and reason"
            )
        for key, value in entry.items():
            if key not in WAIVER_KEYS:
                raise ConfigError(
                    f"{_entry(origin, index, _where(origin, key, index))} {key} = {show(value)}:"
                    f" unknown key; expected one of {', '.join(WAIVER_KEYS)}"
                )
        for key in ("distribution", "reason"):
            if key not in entry:
                raise ConfigError(
                    f"{_entry(origin, index, where)}: missing required key {key!r}",
                    hint="every waiver needs a distribution and a reason saying why it is safe",
                )
            value = entry[key]
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"{_entry(origin, index, _where(origin, key, index))} {key} = {show(value)}:"
                    " expected a non-empty string"
                )
        codes = entry.get("codes", [])
        if isinstance(codes, str):
            codes = [codes]
        if (
            not isinstance(codes, list)
            or not all(isinstance(c, str) and c.strip() for c in codes)
        ):
            raise ConfigError(
                f"{_entry(origin, index, _where(origin, 'codes', index))} codes = {show(codes)}:"
                ' expected a list of finding codes such as ["PC140"]'
            )
        expires = _parse_date(entry.get("expires"), origin, index)
        waivers.append(
            Waiver(
                distribution=entry["distribution"].strip(),
                reason=entry["reason"].strip(),
                codes=tuple(c.strip().upper() for c in codes),
                expires=expires,
                origin=where,
            )
        )
    return waivers


def _parse_date(value: Any, origin: Any, index: int) -> _dt.date | None:
    if value is None:
        return None
    # TOML datetimes are datetime instances, which are also dates: take the day.
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(
        f"{_entry(origin, index, _where(origin, 'expires', index))} expires = {show(value)}:"
        " expected a date such as 2027-01-31"
    )


def _where(origin: Any, key: str, index: int) -> str:
    if isinstance(origin, str):
        return origin
    return origin.where(key, array="waivers", index=index)


def _entry(origin: Any, index: int, where: str) -> str:
    table = ".".join((*getattr(origin, "table", ()), "waivers"))
    return f"{where}: [[{table}]] #{index + 1}"


def _label(origin: Any, key: str) -> str:
    if isinstance(origin, str):
        return f"{origin}: {key}"
    return f"{origin.where(key)}: {origin.header}{key}"
