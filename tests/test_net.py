"""patchcheck.net: the one loopback test and the one password redaction."""
from __future__ import annotations

import pytest

from patchcheck.net import is_loopback, redact_url


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
    ("LOCALHOST", True), ("ip6-localhost", True),
    ("10.0.0.1", False), ("0.0.0.0", False), ("::", False), ("example.com", False),
    ("localhost.example.com", False), ("", False),
])
def test_is_loopback_resolves_nothing(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_redact_hides_passwords_and_tokens_in_urls_and_sentences() -> None:
    assert redact_url("mysql://u:secret@127.0.0.1:1/db") == "mysql://u:****@127.0.0.1:1/db"
    assert redact_url("redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"
    assert redact_url("--index-url https://tok3n@pypi.example/simple ignored") == (
        "--index-url https://****@pypi.example/simple ignored")
    assert redact_url("a=postgresql://p:pw@127.0.0.1/x, b=amqp://guest:guest@::1") == (
        "a=postgresql://p:****@127.0.0.1/x, b=amqp://guest:****@::1")
