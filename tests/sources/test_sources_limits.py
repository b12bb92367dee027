"""Hostile input files: bounded size, linear time, one-line errors naming file:line (issue #12).

The library-level tests call ``load_sources``; the CLI tests run ``patchcheck scan`` in a
subprocess and check the exit code (2) and that stderr is one error plus a hint, no traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from patchcheck.errors import SourceError
from patchcheck.sources import load_sources
from patchcheck.sources.base import MAX_FILE_BYTES, MAX_LINE_CHARS, MAX_NAME_CHARS


def _error(tmp_path: Path, name: str) -> str:
    with pytest.raises(SourceError) as info:
        load_sources([name], base_dir=tmp_path)
    return info.value.message


def test_a_10_mb_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("redis\n" + "a" * 10_000_000 + "\n")
    message = _error(tmp_path, "requirements.txt")
    assert message.startswith("requirements.txt:2: line is 10000000 characters long")
    assert len(message) < 200


def test_a_10_mb_line_of_blanks_is_an_error_too(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("a" + " " * 10_000_000 + "b\n")
    assert _error(tmp_path, "requirements.txt").startswith("requirements.txt:1: line is")


def test_comment_after_a_long_run_of_blanks_is_stripped_in_linear_time(tmp_path: Path) -> None:
    # pip's comment pattern, searched, is quadratic here: minutes for this line.
    line = "redis" + " " * (MAX_LINE_CHARS - 100) + "# pinned by ops"
    (tmp_path / "requirements.txt").write_text(line + "\nsix  # and a comment\n")
    assert load_sources(["requirements.txt"], base_dir=tmp_path).names == ("redis", "six")


def test_comment_rules_match_pip(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("# whole line\nredis#not-a-comment-start\n"
                                    "six\t# tab before\n")
    # "redis#..." is not a comment (no blank before "#"), so it is one invalid requirement.
    assert "r.txt:2: invalid requirement" in _error(tmp_path, "r.txt")


def test_a_long_name_is_an_error_and_the_message_is_short(tmp_path: Path) -> None:
    name = "x" * (MAX_NAME_CHARS + 1)
    (tmp_path / "requirements.txt").write_text(f"six\n{name}>=1\n")
    message = _error(tmp_path, "requirements.txt")
    assert message.startswith("requirements.txt:2: distribution name 'xxx")
    assert f"longer than {MAX_NAME_CHARS} characters" in message
    assert len(message) < 200


def test_a_long_name_in_pyproject_is_an_error_too(tmp_path: Path) -> None:
    name = "y" * (MAX_NAME_CHARS + 1)
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "p"\nversion = "1"\ndependencies = ["{name}"]\n')
    assert "longer than" in _error(tmp_path, "pyproject.toml")


def test_an_invalid_long_line_is_shown_clipped(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("redis[" + "!" * 50_000 + "\n")
    message = _error(tmp_path, "requirements.txt")
    assert message.startswith("requirements.txt:1: invalid requirement")
    assert len(message) < 500 and "characters)" in message


def test_a_file_over_the_size_limit_is_an_error(tmp_path: Path) -> None:
    big = tmp_path / "requirements.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 10)  # sparse: no disk needed
    assert "larger than 32 MiB" in _error(tmp_path, "requirements.txt")


def test_a_fifo_is_an_error_not_a_wait(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")
    assert _error(tmp_path, "requirements.txt") == (
        "requirements.txt: is a FIFO (named pipe), not a regular file")


def test_a_device_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is a device, not a regular file"):
        load_sources(["/dev/zero"], base_dir=tmp_path)


def test_an_include_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "requirements.txt").write_text("-r sub\n")
    assert "is a directory" in _error(tmp_path, "requirements.txt")


def test_a_poetry_lock_named_uv_lock_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text('[[package]]\nname = "redis"\nversion = "5.0"\n\n'
                                      '[metadata]\nlock-version = "2.0"\n')
    assert _error(tmp_path, "uv.lock") == (
        "uv.lock: not a uv.lock (no top-level 'version'; it looks like a poetry.lock)")


# --- through the CLI -------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "patchcheck", "scan", *args, "--no-probes"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATCHCHECK_CACHE_DIR": str(tmp_path / "c")})


def _one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("patchcheck: error: ")
    assert all(line.startswith("hint: ") for line in lines[1:]), lines
    return lines[0]


@pytest.mark.parametrize("setup, expected", [
    (lambda d: (d / "requirements.txt").write_text("a" * (MAX_LINE_CHARS + 1)),
     "requirements.txt:1: line is"),
    (lambda d: (d / "pyproject.toml").write_text('[project\nname = "x"\n'),
     "pyproject.toml:1:9: invalid TOML"),
    (lambda d: os.mkfifo(d / "requirements.txt"), "is a FIFO"),
    (lambda d: (d / "requirements.txt").mkdir(), "is a directory"),
    (lambda d: (d / "uv.lock").write_text('[[package]]\nname = "six"\n'), "not a uv.lock"),
    (lambda d: (d / "pylock.toml").write_text('version = 1\n'), "lock-version"),
], ids=["long-line", "bad-toml", "fifo", "directory", "uv-lock-kind", "pylock-kind"])
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, setup, expected: str) -> None:
    setup(tmp_path)
    name = next(p.name for p in tmp_path.iterdir() if p.name != "c")
    assert expected in _one_error(_cli(tmp_path, name))


def test_cli_file_deleted_before_it_is_read(tmp_path: Path) -> None:
    # A dangling symlink is what a file deleted between listing and reading looks like.
    (tmp_path / "requirements.txt").symlink_to(tmp_path / "gone.txt")
    assert "requirements.txt: file not found" in _one_error(_cli(tmp_path, "requirements.txt"))
