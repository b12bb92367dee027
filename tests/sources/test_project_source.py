"""Remedy patterns in a project's own source, found with ast (issue #15.6)."""
from __future__ import annotations

from pathlib import Path

from patchcheck.sources.project_source import MAX_FILE_BYTES, find_patterns

PATTERNS = ["import:zmq.green", "call:psycogreen.gevent.patch_psycopg",
            "call:grpc.experimental.gevent.init_gevent", "call:pymysql.install_as_MySQLdb"]


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _found(root: Path) -> list[tuple[str, str]]:
    return [(o.pattern, o.where) for o in find_patterns(root, PATTERNS)]


def test_imports_and_calls_resolved_through_the_files_imports(tmp_path) -> None:
    _write(tmp_path, "app/a.py", "import os\nimport zmq.green as zmq\n")
    _write(tmp_path, "app/b.py", "from zmq import green\n")
    _write(tmp_path, "app/c.py", "from psycogreen.gevent import patch_psycopg as pp\n\n\n"
                                 "def setup():\n    pp()\n")
    _write(tmp_path, "app/d.py", "import grpc.experimental.gevent as grpc_gevent\n"
                                 "grpc_gevent.init_gevent()\n")
    _write(tmp_path, "app/e.py", "import pymysql\npymysql.install_as_MySQLdb()\n")
    assert _found(tmp_path) == [
        ("import:zmq.green", "app/a.py:2"),
        ("import:zmq.green", "app/b.py:1"),
        ("call:psycogreen.gevent.patch_psycopg", "app/c.py:5"),
        ("call:grpc.experimental.gevent.init_gevent", "app/d.py:2"),
        ("call:pymysql.install_as_MySQLdb", "app/e.py:2"),
    ]


def test_text_that_only_looks_like_a_remedy_is_not_one(tmp_path) -> None:
    # A comment, a string, an unrelated function of the same name, plain zmq: none apply.
    _write(tmp_path, "m.py",
           '# import zmq.green as zmq\nDOC = "psycogreen.gevent.patch_psycopg()"\n'
           "import zmq\n\ndef patch_psycopg():\n    pass\n\npatch_psycopg()\n")
    assert _found(tmp_path) == []


def test_the_walk_skips_other_peoples_code_big_files_and_broken_ones(tmp_path) -> None:
    for folder in (".venv/lib", "node_modules/x", ".git/hooks", "lib/site-packages/zmq_app",
                   "build/lib"):
        _write(tmp_path, f"{folder}/m.py", "import zmq.green\n")
    _write(tmp_path, "big.py", "import zmq.green\n" + "#" * (MAX_FILE_BYTES + 1))
    _write(tmp_path, "broken.py", "import zmq.green\ndef (:\n")
    assert _found(tmp_path) == []
    _write(tmp_path, "src/ok.py", "import zmq.green\n")
    assert _found(tmp_path) == [("import:zmq.green", "src/ok.py:1")]
