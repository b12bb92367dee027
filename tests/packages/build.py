"""Build and install patchcheck's test packages (``tests/packages/<name>/``) into an interpreter.

Used by tests that need a real installed target package (C extensions included)::

    from build import build_and_install          # or load this file by path, see below
    site = build_and_install(PACKAGES / "pc_native_io", venv_python)
    site = build_and_install(PACKAGES / "pc_native_io", sys.executable, target_dir=tmp_path)

Because ``tests/`` may or may not be a package, tests can load this module by path::

    spec = importlib.util.spec_from_file_location("pc_build", ROOT / "tests/packages/build.py")

From a shell: ``python tests/packages/build.py tests/packages/pc_native_io /path/to/python
[--target DIR]``.

The package source is copied to a temporary directory first: pip builds in-tree, and several
test processes (xdist workers, other engineers' tests) may build the same package at once.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGES = Path(__file__).resolve().parent

#: The C-extension test packages (the native-code check's); any folder here with a
#: pyproject.toml installs the same way.
NATIVE = ("pc_native_io", "pc_native_compute")

_INFO = (
    "import json, sys, sysconfig; "
    "print(json.dumps({'platlib': sysconfig.get_paths()['platlib'], "
    "'venv': sys.prefix != sys.base_prefix}))"
)


class BuildError(RuntimeError):
    """pip failed; the message carries its output."""


def build_and_install(pkg_dir: str | os.PathLike[str], python: str | os.PathLike[str],
                      target_dir: str | os.PathLike[str] | None = None, *,
                      allow_system: bool = False, timeout: float = 300.0) -> Path:
    """Install the package at ``pkg_dir`` into ``python``'s environment (or ``target_dir``).

    Runs ``python -m pip install --no-deps --no-build-isolation --no-index`` (offline; gcc
    and the interpreter's headers compile the extension), so setuptools must be importable by
    ``python`` (a ``venv --system-site-packages`` sees the system one).

    Returns the directory the package was installed into: ``target_dir`` when given (put it on
    ``PYTHONPATH`` to import from it), else the interpreter's platlib. Without ``target_dir``
    the interpreter must be a virtual environment unless ``allow_system=True``: tests must not
    install into the shared system site-packages.
    """
    pkg = Path(pkg_dir).resolve()
    # Absolute, but not resolved: a venv's bin/python is a symlink to the base interpreter,
    # and following it would install into the base environment.
    python = os.path.abspath(os.fspath(python))
    if not (pkg / "pyproject.toml").exists() and not (pkg / "setup.py").exists():
        raise BuildError(f"{pkg} is not a package source tree (no pyproject.toml/setup.py)")
    info = json.loads(subprocess.run(
        [python, "-c", _INFO], check=True, capture_output=True, text=True,
        timeout=60,
    ).stdout)
    if target_dir is None and not info["venv"] and not allow_system:
        raise BuildError(
            f"{python} is not a virtual environment; pass target_dir= or allow_system=True "
            "to install into its site-packages")

    with tempfile.TemporaryDirectory(prefix=f"pc-build-{pkg.name}-") as tmp:
        src = Path(tmp) / pkg.name
        shutil.copytree(pkg, src, ignore=shutil.ignore_patterns(
            "build", "*.egg-info", "__pycache__", "*.so", "*.o"))
        cmd = [python, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
               "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--no-input",
               "--force-reinstall", "-q"]
        if target_dir is not None:
            Path(target_dir).mkdir(parents=True, exist_ok=True)
            cmd += ["--upgrade", "--target", os.fspath(target_dir)]
        cmd.append(os.fspath(src))
        env = dict(os.environ, PIP_NO_WARN_SCRIPT_LOCATION="1",
                   PIP_ROOT_USER_ACTION="ignore")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=tmp)
        if proc.returncode != 0:
            hint = ""
            if "invalid command 'bdist_wheel'" in proc.stdout + proc.stderr:
                # setuptools < 70.1 needs the separate "wheel" package to build wheels.
                hint = f"\nhint: {python} -m pip install wheel"
            raise BuildError(
                f"installing {pkg.name} into {python} failed (exit {proc.returncode}):\n"
                f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}{hint}")
    return Path(target_dir).resolve() if target_dir is not None else Path(info["platlib"])


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="a folder under tests/packages, or its name")
    parser.add_argument("python", nargs="?", default=sys.executable)
    parser.add_argument("--target", default=None, help="install into this folder")
    parser.add_argument("--allow-system", action="store_true")
    args = parser.parse_args(argv)
    pkg = Path(args.package)
    if not pkg.exists() and (PACKAGES / args.package).exists():
        pkg = PACKAGES / args.package
    where = build_and_install(pkg, args.python, args.target, allow_system=args.allow_system)
    print(where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
