"""Small network helpers shared by every layer: what counts as loopback, and hiding secrets.

The design's hard rule (only 127.0.0.1/::1 is ever contacted) is checked with
:func:`is_loopback` wherever a host comes from outside (configuration, environment, a proxy
target); :func:`redact_url` keeps passwords out of every message, note and report.
"""
from __future__ import annotations

import ipaddress
import re
import urllib.parse

#: Names that resolve to loopback on every system patchcheck supports (/etc/hosts defaults).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the loopback host names; no name is resolved."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``****``.

    ``user:secret@host`` becomes ``user:****@host``; a bare ``token@host`` (a token in the user
    part, as package indexes use) becomes ``****@host``. Works on a lone URL or a sentence.
    """

    def hide(match: re.Match[str]) -> str:
        url = match.group(0)
        parts = urllib.parse.urlsplit(url)
        if "@" not in parts.netloc:
            return url
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0] if ":" in userinfo else "****"
        shown = f"{user}:****@{host}" if ":" in userinfo else f"****@{host}"
        return urllib.parse.urlunsplit(parts._replace(netloc=shown))

    return _URL.sub(hide, text)
