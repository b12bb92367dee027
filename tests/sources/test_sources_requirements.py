"""Requirements files in pip's syntax (patchcheck.sources.requirements)."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from patchcheck.errors import SourceError
from patchcheck.model import Requirement
from patchcheck.sources import parse_requirement_strings, parse_requirements_file


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def parse(folder: Path, text: str, name: str = "requirements.txt", **kwargs):
    # Origins show the path as given (display), as the CLI shows what the user typed.
    return parse_requirements_file(write(folder, name, text), display=name, **kwargs)


def by_name(source) -> dict[str, Requirement]:
    return {r.name: r for r in source.requirements}


# --- basic syntax --------------------------------------------------------------------------


def test_names_specifiers_extras_markers_and_origins(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        # the team's runtime dependencies
        requests[socks,security]>=2.31,<3
        redis==5.0.1

        psycopg2-binary ; python_version >= "3.8"
        """)
    assert source.requirements == (
        Requirement(name="requests", specifier="<3,>=2.31", extras=("security", "socks"),
                    origin="requirements.txt:2", line="requests[socks,security]>=2.31,<3"),
        Requirement(name="redis", specifier="==5.0.1", origin="requirements.txt:3",
                    line="redis==5.0.1"),
        Requirement(name="psycopg2-binary", marker='python_version >= "3.8"',
                    origin="requirements.txt:5", line='psycopg2-binary ; python_version >= "3.8"'),
    )
    assert source.notes == ()
    assert source.constraints == ()


def test_comments_only_at_line_start_or_after_whitespace(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        #comment at the start
           # indented comment
        redis  # trailing comment
        gevent	# after a tab
        foo @ https://example.com/foo-1.0.tar.gz#sha256=abc
        """)
    reqs = by_name(source)
    assert list(reqs) == ["redis", "gevent", "foo"]
    # "#" inside a URL is not a comment.
    assert reqs["foo"].url == "https://example.com/foo-1.0.tar.gz#sha256=abc"


def test_a_slash_in_a_marker_does_not_make_a_path(tmp_path: Path) -> None:
    source = parse(tmp_path, 'redis; platform_version == "a/b"\n./x-1.0.tar.gz; os_name == "nt"\n')
    assert [(r.name, r.marker) for r in source.requirements] == [
        ("redis", 'platform_version == "a/b"'), ("x", 'os_name == "nt"')]


def test_hash_glued_to_a_name_is_not_a_comment(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "redis#5\n")
    assert info.value.message.startswith("requirements.txt:1: invalid requirement 'redis#5': ")


def test_continuations_keep_the_first_line_number(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        gevent
        redis==5.0.1 \\
            --hash=sha256:aaaa \\
            --hash=sha256:bbbb
        requests\\
        >=2
        """)
    reqs = by_name(source)
    assert reqs["redis"].origin == "requirements.txt:2"
    assert reqs["redis"].specifier == "==5.0.1"
    assert reqs["redis"].line == "redis==5.0.1"  # per-requirement options are not part of it
    assert reqs["requests"].origin == "requirements.txt:5"
    assert reqs["requests"].specifier == ">=2"
    assert source.notes == ()


def test_a_comment_ends_a_continuation_like_pip(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        redis \\
        # this comment swallows nothing but itself
        gevent \\
        """)
    assert [(r.name, r.origin) for r in source.requirements] == [
        ("redis", "requirements.txt:1"),
        ("gevent", "requirements.txt:3"),  # the file may end with a backslash
    ]


def test_per_requirement_options_are_accepted(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        redis==5.0.1 --hash=sha256:aaaa --hash sha256:bbbb
        gevent --config-settings=x=y
        """)
    assert [r.name for r in source.requirements] == ["redis", "gevent"]
    assert source.notes == ()


# --- options -------------------------------------------------------------------------------


def test_index_and_install_options_are_ignored_with_a_note(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        -i https://pypi.example/simple
        --extra-index-url=https://alice:s3cret@private.example/simple
        --find-links ./wheels
        -f./more-wheels
        --pre
        --no-binary :all:
        --only-binary=gevent
        --prefer-binary
        --require-hashes
        --trusted-host private.example
        --no-index
        --index https://abbreviated.example/simple
        gevent
        """)
    assert [r.name for r in source.requirements] == ["gevent"]
    assert len(source.notes) == 12
    assert source.notes[0] == (
        "requirements.txt:1: ignored --index-url https://pypi.example/simple (patchcheck "
        "reads the target environment; index and install options do not apply)"
    )
    # Credentials never reach a note.
    assert "s3cret" not in source.notes[1]
    assert "https://alice:****@private.example/simple" in source.notes[1]
    assert source.notes[3].startswith("requirements.txt:4: ignored --find-links ./more-wheels ")
    # optparse accepts unambiguous prefixes of long options, so pip does, so we do.
    assert source.notes[11].startswith(
        "requirements.txt:12: ignored --index-url https://abbreviated.example/simple ")


def test_unknown_option_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "gevent\n--frobnicate yes\n")
    assert info.value.message == (
        "requirements.txt:2: unknown option '--frobnicate' in '--frobnicate yes'")
    assert "--index-url" in (info.value.hint or "")


def test_option_missing_its_value_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "-r\n")
    assert info.value.message == "requirements.txt:1: option --requirement needs a value"


def test_hash_without_a_requirement_is_noted(tmp_path: Path) -> None:
    source = parse(tmp_path, "--hash=sha256:aaaa\n")
    assert source.notes == ("requirements.txt:1: --hash without a requirement ignored",)


# --- includes ------------------------------------------------------------------------------


def test_includes_are_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "reqs/base.txt", "redis\n-r ../common/extra.txt\n")
    write(tmp_path, "common/extra.txt", "gevent>=23\n")
    write(tmp_path, "reqs/dev.txt", "pytest\n")
    source = parse(tmp_path, """
        -r reqs/base.txt
        --requirement=reqs/dev.txt
        requests
        """)
    assert [(r.name, r.origin) for r in source.requirements] == [
        ("redis", "reqs/base.txt:1"),
        ("gevent", "common/extra.txt:1"),
        ("pytest", "reqs/dev.txt:1"),
        ("requests", "requirements.txt:3"),
    ]


def test_includes_work_from_another_working_directory(tmp_path: Path) -> None:
    write(tmp_path, "proj/requirements.txt", "-rsub/more.txt\n")
    write(tmp_path, "proj/sub/more.txt", "redis\n")
    source = parse_requirements_file(tmp_path / "proj" / "requirements.txt",
                                     display="proj/requirements.txt")
    assert [(r.name, r.origin) for r in source.requirements] == [("redis", "proj/sub/more.txt:1")]


def test_constraints_are_recorded_not_required(tmp_path: Path) -> None:
    write(tmp_path, "constraints.txt", "urllib3<3\nredis==5.0.1\n")
    source = parse(tmp_path, "-c constraints.txt\nredis\n")
    assert [r.name for r in source.requirements] == ["redis"]
    assert [(r.name, r.specifier, r.origin) for r in source.constraints] == [
        ("urllib3", "<3", "constraints.txt:1"),
        ("redis", "==5.0.1", "constraints.txt:2"),
    ]


def test_requirement_include_inside_a_constraints_file_adds_requirements_like_pip(
    tmp_path: Path,
) -> None:
    write(tmp_path, "constraints.txt", "six<2\n-r more.txt\n")
    write(tmp_path, "more.txt", "redis\n")
    source = parse(tmp_path, "--constraint constraints.txt\n")
    assert [r.name for r in source.requirements] == ["redis"]
    assert [r.name for r in source.constraints] == ["six"]


def test_include_cycle_names_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "b.txt", "redis\n-r sub/c.txt\n")
    write(tmp_path, "sub/c.txt", "-r ../requirements.txt\n")
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "gevent\n-r b.txt\n")
    assert info.value.message == (
        "sub/c.txt:1: include cycle: requirements.txt -> b.txt -> sub/c.txt -> requirements.txt"
    )


def test_a_file_including_itself_is_a_cycle(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "-r ./requirements.txt\n")
    assert info.value.message == (
        "requirements.txt:1: include cycle: requirements.txt -> requirements.txt")


def test_a_file_included_twice_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, "common.txt", "redis\n")
    write(tmp_path, "dev.txt", "-r common.txt\npytest\n")
    source = parse(tmp_path, "-r common.txt\n-r dev.txt\n")
    assert [r.name for r in source.requirements] == ["redis", "pytest"]
    assert source.notes == (
        "dev.txt:1: common.txt already read (from requirements.txt:1); not read again",)


def test_missing_include_names_the_including_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "redis\n-r sub/missing.txt\n")
    assert info.value.message == "requirements.txt:2: sub/missing.txt: file not found"
    assert "relative to the file" in (info.value.hint or "")


def test_remote_include_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "-r https://example.com/requirements.txt\n")
    assert info.value.message == (
        "requirements.txt:1: remote requirements file "
        "'https://example.com/requirements.txt' is not supported")


# --- files that cannot be read -------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse_requirements_file(tmp_path / "nope.txt", display="nope.txt")
    assert info.value.message == "nope.txt: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse_requirements_file(tmp_path, display="reqs")
    assert info.value.message == "reqs: is a directory, not a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "redis\n")
    path.chmod(0)
    with pytest.raises(SourceError) as info:
        parse_requirements_file(path, display="requirements.txt")
    assert info.value.message == "requirements.txt: cannot read: Permission denied"


def test_undecodable_file_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", b"redis\ngevent \xff\n")
    with pytest.raises(SourceError) as info:
        parse_requirements_file(tmp_path / "requirements.txt", display="requirements.txt")
    assert info.value.message == "requirements.txt:2: cannot decode byte 0xff as utf-8"
    assert info.value.hint == "save the file as UTF-8"


def test_boms_and_coding_lines_are_honoured(tmp_path: Path) -> None:
    write(tmp_path, "utf16.txt", "redis\ngevent\n".encode("utf-16"))
    write(tmp_path, "utf8bom.txt", b"\xef\xbb\xbfredis\n")
    write(tmp_path, "latin1.txt", "# -*- coding: latin-1 -*-\n# caf\xe9\nredis\n".encode("latin-1"))
    assert parse_requirements_file(tmp_path / "utf16.txt").names == ("redis", "gevent")
    assert parse_requirements_file(tmp_path / "utf8bom.txt").names == ("redis",)
    assert parse_requirements_file(tmp_path / "latin1.txt").names == ("redis",)


# --- malformed lines -----------------------------------------------------------------------


def test_invalid_requirement_message_is_one_line_naming_file_line_and_text(
    tmp_path: Path,
) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "redis\n\n# comment\ngevent\nsix\npsycopg2\nrequests>=>2\n")
    message = info.value.message
    assert message.startswith("requirements.txt:7: invalid requirement 'requests>=>2': Expected ")
    assert "\n" not in message
    assert "PEP 508" in (info.value.hint or "")


def test_invalid_marker_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, 'redis; python_version >> "3"\n')
    assert info.value.message.startswith(
        "requirements.txt:1: invalid requirement 'redis; python_version >> \"3\"': ")


def test_stray_words_after_options_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "--pre redis\n")
    assert info.value.message == (
        "requirements.txt:1: unexpected 'redis' after the options in '--pre redis'")


# --- URLs, paths and editables -------------------------------------------------------------


def test_named_urls_and_egg_fragments(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        gevent @ file:///opt/wheels/gevent-24.2.1.tar.gz
        mylib[redis] @ git+https://git.example/mylib.git@v1.2 ; python_version >= "3.9"
        -e git+https://git.example/other.git@main#egg=otherlib[async]
        git+https://git.example/third.git#egg=thirdlib
        https://files.example/pkgs/foo_bar-1.2.3-py3-none-any.whl
        """)
    reqs = by_name(source)
    assert reqs["gevent"].url == "file:///opt/wheels/gevent-24.2.1.tar.gz"
    assert reqs["mylib"].extras == ("redis",)
    assert reqs["mylib"].marker == 'python_version >= "3.9"'
    assert reqs["mylib"].url == "git+https://git.example/mylib.git@v1.2"
    assert reqs["otherlib"].extras == ("async",)
    assert reqs["otherlib"].url == "git+https://git.example/other.git@main#egg=otherlib[async]"
    assert reqs["otherlib"].line == "-e git+https://git.example/other.git@main#egg=otherlib[async]"
    assert reqs["thirdlib"].origin == "requirements.txt:4"
    # A wheel's file name carries its name and version (PEP 427).
    assert (reqs["foo-bar"].specifier, reqs["foo-bar"].url) == (
        "==1.2.3", "https://files.example/pkgs/foo_bar-1.2.3-py3-none-any.whl")
    assert source.notes == ()


def test_unnamed_vcs_and_url_lines_are_notes_not_errors(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        -e git+https://git.example/anon.git
        https://example.com/download/latest
        redis
        """)
    assert source.names == ("redis",)
    assert source.notes == (
        "requirements.txt:1: editable requirement 'git+https://git.example/anon.git' not "
        "checked: cannot tell the distribution name from a VCS URL (write "
        "'name @ git+https://git.example/anon.git' or add '#egg=name')",
        "requirements.txt:2: requirement 'https://example.com/download/latest' not checked: "
        "cannot tell the distribution name from a URL (write "
        "'name @ https://example.com/download/latest' or add '#egg=name')",
    )


def test_local_paths_are_named_from_the_project_or_the_file(tmp_path: Path) -> None:
    write(tmp_path, "libs/mylib/pyproject.toml", '[project]\nname = "my-lib"\nversion = "1"\n')
    write(tmp_path, "libs/legacy/setup.py", "")
    write(tmp_path, "dist/gevent-24.2.1-cp311-cp311-manylinux_2_28_x86_64.whl", b"")
    source = parse(tmp_path, """
        -e ./libs/mylib[redis]
        ./dist/gevent-24.2.1-cp311-cp311-manylinux_2_28_x86_64.whl
        -e libs/legacy
        ./vendor/six-1.16.0.tar.gz
        """)
    reqs = by_name(source)
    assert reqs["my-lib"].extras == ("redis",)
    assert reqs["my-lib"].url == (tmp_path / "libs" / "mylib").as_uri()
    assert reqs["gevent"].specifier == "==24.2.1"
    assert reqs["six"].specifier == "==1.16.0"
    assert len(source.notes) == 1
    assert source.notes[0].startswith("requirements.txt:3: editable requirement 'libs/legacy' "
                                      "not checked: cannot tell the distribution name from a "
                                      "local path")


def test_invalid_egg_fragment_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "-e git+https://git.example/x.git#egg=x-1.0!\n")
    assert info.value.message.startswith("requirements.txt:1: invalid #egg= name 'x-1.0!': ")


# --- environment variables -----------------------------------------------------------------


def test_environment_variables_are_expanded_like_pip(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        private-lib @ https://${TOKEN}@git.example/lib-1.0.tar.gz
        ${PKG}==1.0
        """, environ={"TOKEN": "t0ken", "PKG": "redis", "lower": "gevent"})
    reqs = by_name(source)
    assert reqs["private-lib"].url == "https://t0ken@git.example/lib-1.0.tar.gz"
    # "line" is the line as written: the secret is not copied into reports.
    assert reqs["private-lib"].line == "private-lib @ https://${TOKEN}@git.example/lib-1.0.tar.gz"
    assert reqs["redis"].line == "${PKG}==1.0"


def test_lower_case_variable_is_not_a_variable(tmp_path: Path) -> None:
    # Only upper-case names are variables (POSIX, like pip), so "${lower}" stays as text.
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "${lower}\n", environ={"lower": "gevent"})
    assert info.value.message.startswith("requirements.txt:1: invalid requirement '${lower}': ")


def test_unset_variable_is_left_as_written_and_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        parse(tmp_path, "redis\n${MISSING_PKG}\n", environ={})
    message = info.value.message
    assert message.startswith("requirements.txt:2: invalid requirement '${MISSING_PKG}': ")
    assert message.endswith(" (environment variable MISSING_PKG is not set)")


def test_unset_variable_in_a_url_is_noted(tmp_path: Path) -> None:
    source = parse(tmp_path, "lib @ https://${TOKEN}@git.example/lib-1.0.tar.gz\n", environ={})
    assert source.names == ("lib",)
    assert source.notes == (
        "requirements.txt:1: environment variable TOKEN is not set; left as written",)


def test_os_environ_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHCHECK_TEST_PKG", "redis")
    assert parse(tmp_path, "${PATCHCHECK_TEST_PKG}\n").names == ("redis",)


# --- duplicates ----------------------------------------------------------------------------


def test_duplicates_keep_the_first_and_are_noted(tmp_path: Path) -> None:
    write(tmp_path, "more.txt", "Redis>=5\n")
    source = parse(tmp_path, "redis==5.0.1\ngevent\n-r more.txt\ngevent\n")
    assert [(r.name, r.specifier) for r in source.requirements] == [
        ("redis", "==5.0.1"), ("gevent", "")]
    assert source.notes == (
        "more.txt:1: duplicate requirement 'Redis>=5' ignored (conflicts with 'redis==5.0.1'); "
        "keeping the first, from requirements.txt:1",
        "requirements.txt:4: duplicate requirement 'gevent' ignored (listed again); keeping "
        "the first, from requirements.txt:2",
    )


def test_same_name_with_different_markers_is_kept_for_later_evaluation(tmp_path: Path) -> None:
    source = parse(tmp_path, """
        numpy<2; python_version < "3.9"
        numpy>=2; python_version >= "3.9"
        """)
    assert [r.specifier for r in source.requirements] == ["<2", ">=2"]
    assert source.notes == ()


# --- command line --------------------------------------------------------------------------


def test_requirement_strings_from_the_command_line() -> None:
    source = parse_requirement_strings(["redis", "psycopg2-binary>=2.9", " ", "Redis"])
    assert [(r.name, r.specifier, r.origin, r.line) for r in source.requirements] == [
        ("redis", "", "<command line>", "redis"),
        ("psycopg2-binary", ">=2.9", "<command line>", "psycopg2-binary>=2.9"),
    ]
    assert source.notes == (
        "<command line>: duplicate requirement 'Redis' ignored (listed again); keeping the "
        "first, from <command line>",)


def test_invalid_requirement_string() -> None:
    with pytest.raises(SourceError) as info:
        parse_requirement_strings(["redis", "psycopg2-binary>=>2.9"])
    assert info.value.message.startswith(
        "<command line>: invalid requirement 'psycopg2-binary>=>2.9': Expected ")
