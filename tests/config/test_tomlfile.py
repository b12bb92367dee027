"""The one TOML loader (``patchcheck.tomlfile``): every reader reports bad TOML alike."""
from __future__ import annotations

from pathlib import Path

import pytest

from patchcheck.config import load_settings
from patchcheck.errors import ConfigError, SourceError, UsageError
from patchcheck.sources import load_sources
from patchcheck.tomlfile import HINT, load_toml, parse_toml

BROKEN = '[project]\nname = "x"\ndependencies = ["a" "b"]\n'
MESSAGE = "pyproject.toml:3:21: invalid TOML: Unclosed array"


def test_parse_names_line_and_column_and_raises_the_callers_error() -> None:
    with pytest.raises(SourceError) as info:
        parse_toml(BROKEN, "pyproject.toml", error=SourceError)
    assert (info.value.message, info.value.hint) == (MESSAGE, HINT)
    assert info.value.exit_code == 2


def test_default_error_and_end_of_document() -> None:
    with pytest.raises(UsageError) as info:
        parse_toml("a = 1\nb = = 2\n", "x.toml")
    assert info.value.message == "x.toml:2:5: invalid TOML: Invalid value"
    with pytest.raises(UsageError) as info:
        parse_toml("[a", "x.toml")
    assert info.value.message == ("x.toml: invalid TOML at end of document: "
                                  "Expected ']' at the end of a table declaration")


def test_config_and_sources_give_the_same_message(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(BROKEN + "[tool.patchcheck]\n")
    with pytest.raises(ConfigError) as config:
        load_settings({}, env={}, cwd=tmp_path)
    with pytest.raises(SourceError) as source:
        load_sources(["pyproject.toml"], base_dir=str(tmp_path))
    assert config.value.message == source.value.message == MESSAGE
    assert config.value.hint == source.value.hint == HINT


def test_load_reads_utf8_only(tmp_path: Path) -> None:
    path = tmp_path / "k.toml"
    path.write_bytes(b'a = "\xff"\n')
    with pytest.raises(UsageError, match=r"k\.toml: not UTF-8 text"):
        load_toml(path)
    path.write_text('a = "é"\n', encoding="utf-8")
    assert load_toml(path) == {"a": "é"}
