"""Remedies already applied in the project's own source (issue #15.6).

Locust imports ``zmq.green as zmq``; its scan should not fail on pyzmq's plain ``blocks``. Given
the project's folder (the folder of a scanned pyproject.toml, or ``--source DIR``), this module
walks its Python files with :mod:`ast` (never a regex over text) and reports where each remedy
pattern of the knowledge base occurs. Patterns (``applied_when`` in ``knowledge/known.toml``):

- ``import:MODULE`` — ``import MODULE`` (also ``as``), ``from MODULE import …``, or
  ``from PARENT import LAST`` (``from zmq import green``);
- ``call:DOTTED.NAME`` — a call whose callee resolves, through the file's imports, to that name
  (``from psycogreen.gevent import patch_psycopg; patch_psycopg()``,
  ``import grpc.experimental.gevent as g; g.init_gevent()``).

Bounded: folders that hold other people's code or build output are skipped (:data:`SKIP_DIRS`,
any ``site-packages``), files above :data:`MAX_FILE_BYTES` are not read, and the walk stops
after :data:`MAX_FILES` files. A file that does not parse is skipped (it is the project's, not
ours to judge). Reads files only; imports nothing of the project.
"""
from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "env", ".env", "node_modules",
                       "site-packages", "dist-packages", "__pycache__", ".tox", ".nox",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist",
                       ".eggs"})
MAX_FILE_BYTES = 1_000_000
MAX_FILES = 5000


@dataclass(frozen=True)
class Occurrence:
    """One pattern found: where (relative to the walked folder, ``/``-separated)."""

    pattern: str  # "import:zmq.green"
    file: str  # "pkg/rpc.py"
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def python_files(root: Path, *, max_files: int = MAX_FILES,
                 max_bytes: int = MAX_FILE_BYTES) -> Iterator[Path]:
    """The project's ``.py`` files under ``root``, in a stable order, within the bounds."""
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                         and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = Path(folder) / name
            try:
                if path.stat().st_size > max_bytes:
                    continue
            except OSError:
                continue
            count += 1
            if count > max_files:
                return
            yield path


def find_patterns(root: Path, patterns: Iterable[str]) -> list[Occurrence]:
    """Every occurrence of ``patterns`` in the Python files under ``root`` (first per file)."""
    wanted = {p for p in patterns if p.partition(":")[0] in ("import", "call")}
    if not wanted:
        return []
    out: list[Occurrence] = []
    for path in python_files(root):
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue
        rel = path.relative_to(root).as_posix()
        seen: set[str] = set()
        for pattern, line in _patterns_in(tree):
            if pattern in wanted and pattern not in seen:
                seen.add(pattern)
                out.append(Occurrence(pattern=pattern, file=rel, line=line))
    return out


def _patterns_in(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """``import:…`` and ``call:…`` patterns of one module, in source order."""
    aliases: dict[str, str] = {}  # local name → the dotted name it stands for
    nodes = sorted((n for n in ast.walk(tree)
                    if isinstance(n, (ast.Import, ast.ImportFrom, ast.Call))),
                   key=lambda n: (n.lineno, n.col_offset))
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                yield f"import:{a.name}", node.lineno
                if a.asname:
                    aliases[a.asname] = a.name
                else:  # "import a.b" binds "a"
                    head = a.name.split(".", 1)[0]
                    aliases.setdefault(head, head)
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                continue  # relative imports are the project's own modules
            yield f"import:{node.module}", node.lineno
            for a in node.names:
                if a.name == "*":
                    continue
                full = f"{node.module}.{a.name}"
                yield f"import:{full}", node.lineno
                aliases[a.asname or a.name] = full
        else:
            dotted = _dotted(node.func)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            resolved = aliases.get(head)
            if resolved is not None:
                yield f"call:{resolved}{'.' + rest if rest else ''}", node.lineno


def _dotted(expr: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))
