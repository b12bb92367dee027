"""The ``services`` setting: name = loopback URL of a server the team already runs."""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from patchcheck.config.messages import Invalid, show

_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def conv_services(value: Any, text: bool, base: Path) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise Invalid('expected a table of name = "URL", e.g. {postgresql = "postgresql://127.0.0.1:5432/postgres"}')
    out = {}
    for name, url in value.items():
        if not isinstance(url, str) or not url.strip():
            raise Invalid(f"{name} must be a URL string, not {show(url)}")
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            raise Invalid(f"{name} = {url!r} is not a valid URL") from None
        if not parts.scheme:
            raise Invalid(
                f"{name} = {url!r} has no scheme",
                hint="write it as a URL, e.g. postgresql://127.0.0.1:5432/postgres",
            )
        # docs/architecture.md, "Hard rules": only loopback is contacted. A unix socket URL
        # has no host.
        if host and not _is_loopback(host):
            raise Invalid(
                f"{name} = {url!r}: only loopback hosts (127.0.0.1, ::1, localhost) may be used",
                hint="patchcheck never contacts other machines; run the server locally",
            )
        out[str(name)] = url
    return out
