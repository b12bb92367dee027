"""Load probe files in the tool process and turn their ``@probe`` metadata into ``ProbeSpec``.

A probe file is executed here only to read the metadata the decorator records; the library
under test is imported by the factory, in the child. ``patchcheck_probe`` (the name probe files
import) is aliased to ``patchcheck.harness.patchcheck_probe`` so the same file works on both
sides.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path

from patchcheck.errors import UsageError
from patchcheck.harness import patchcheck_probe
from patchcheck.hookspecs import hookimpl
from patchcheck.spec import DECLARED_REMEDY, ProbeSpec, RemedySpec

#: the module name probe files import
PROBE_API_MODULE = "patchcheck_probe"
#: prefix of the module names probe files are loaded under (never a library's name)
_MODULE_PREFIX = "patchcheck._loaded_probes."


def builtin_probe_dir() -> Path:
    """The folder of built-in probes: ``patchcheck._builtin_probes`` when installed (the
    top-level ``probes/`` folder mapped under patchcheck's namespace), else ``probes/`` beside
    the package in a source checkout that was not installed."""
    try:
        import patchcheck._builtin_probes as builtin  # type: ignore[import-not-found]
    except ImportError:
        return Path(__file__).resolve().parent.parent / "probes"
    return Path(builtin.__file__).resolve().parent


def _alias_probe_api() -> None:
    # Probe files say ``from patchcheck_probe import probe``; in the child that module is found
    # on sys.path (the harness folder), here it is patchcheck's own copy.
    if sys.modules.get(PROBE_API_MODULE) is not patchcheck_probe:
        sys.modules[PROBE_API_MODULE] = patchcheck_probe


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"{_MODULE_PREFIX}{stem}_{digest}"


def _where(exc: BaseException, path: Path) -> str:
    """``file:line`` of the innermost frame of ``exc`` inside the probe file, if any."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"{path}:{exc.lineno}"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve() == path:
            return f"{path}:{frame.lineno}"
    return str(path)


def load_probe_file(path: str | os.PathLike[str], origin: str | None = None) -> list[ProbeSpec]:
    """Import one probe file and return its probes, in file order.

    :raises UsageError: the file cannot be read or imported, or a probe's metadata is wrong.
    """
    path = Path(path).resolve()
    origin = origin or str(path)
    if not path.is_file():
        raise UsageError(f"probe file {path} does not exist",
                         hint="check the --probe-path / probe_paths setting")
    _alias_probe_api()
    modname = _module_name(path)
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"probe file {path} cannot be loaded as Python",
                         hint="a probe file is a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(modname, None)
        raise UsageError(
            f"cannot load probe file {_where(exc, path)}: {type(exc).__name__}: {exc}",
            hint="a probe file may import only the standard library and patchcheck_probe at "
                 "top level; import the library under test inside the probe function",
        ) from exc

    probes: list[ProbeSpec] = []
    for attr, obj in vars(module).items():
        info = getattr(obj, patchcheck_probe.PROBE_ATTR, None)
        if not isinstance(info, patchcheck_probe.ProbeInfo):
            continue
        if getattr(obj, "__module__", None) != modname:
            continue  # imported from another probe file: that file reports it
        remedies = []
        for label, fn in info.remedies:
            if isinstance(fn, patchcheck_probe.Remedy):
                # Found by label in the child (its functions need not be top-level names).
                remedies.append(RemedySpec(label=label, function=DECLARED_REMEDY,
                                           requires=fn.requires, install=fn.install))
                continue
            fname = getattr(fn, "__name__", "")
            if getattr(module, fname, None) is not fn:
                raise UsageError(
                    f"probe {info.name!r} in {path}: remedy {label!r} must be a function "
                    f"defined at the top level of the probe file (got {fn!r})",
                    hint="the child calls the remedy by name after patch_all()")
            remedies.append(RemedySpec(label=label, function=fname))
        probes.append(ProbeSpec(
            name=info.name,
            distributions=tuple(info.distributions),
            path=str(path),
            function=attr,
            services=tuple(info.services),
            wait=info.wait,
            concurrency=info.concurrency,
            remedies=tuple(remedies),
            import_order=info.import_order,
            measure_remedies=getattr(info, "measure_remedies", "failed"),
            before_imports=tuple(getattr(info, "before_imports", ())),
            origin=origin,
            description=info.description,
            version=info.version,
        ))
    return probes


def probe_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The probe files of a folder: ``*.py`` not starting with ``_``, sorted."""
    return sorted(p for p in Path(directory).glob("*.py") if not p.name.startswith("_"))


def load_probe_dir(directory: str | os.PathLike[str], origin: str | None = None
                   ) -> list[ProbeSpec]:
    """Every probe of every file in a folder; probe names must be unique."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"probe folder {directory} does not exist",
                         hint="check the --probe-path / probe_paths setting")
    probes: list[ProbeSpec] = []
    for path in probe_files(directory):
        probes.extend(load_probe_file(path, origin=origin or str(path)))
    _check_unique(probes)
    return probes


def _check_unique(probes: Sequence[ProbeSpec]) -> None:
    seen: dict[str, ProbeSpec] = {}
    for p in probes:
        if p.name in seen:
            raise UsageError(f"probe {p.name!r} is defined twice: in {seen[p.name].path} and "
                             f"{p.path}", hint="give one of them another name: @probe(\"...\")")
        seen[p.name] = p


def probe_problems(probe: ProbeSpec, service_names: Iterable[str]) -> list[str]:
    """What is wrong with a probe's declaration that loading cannot see (``probes --check``):
    services that no plugin or config provides, a proxy to a non-loopback address, values a
    plugin's hand-built ``ProbeSpec`` got wrong. Empty when it is fine."""
    import difflib

    from patchcheck.net import is_loopback
    from patchcheck.services import PROXY_PREFIX, proxy_address

    names = sorted(set(service_names))
    problems: list[str] = []
    if not probe.distributions:
        problems.append("no distributions (distributions=[...])")
    if not (isinstance(probe.wait, (int, float)) and probe.wait > 0):
        problems.append(f"wait={probe.wait!r}: must be a positive number of seconds")
    if not (isinstance(probe.concurrency, int) and probe.concurrency >= 1):
        problems.append(f"concurrency={probe.concurrency!r}: must be an integer >= 1")
    if probe.import_order not in ("after", "before", "both"):
        problems.append(f"import_order={probe.import_order!r}: must be after, before or both")
    for service in probe.services:
        base = service[len(PROXY_PREFIX):] if service.startswith(PROXY_PREFIX) else service
        address = proxy_address(base) if base != service else None
        if address is not None:
            if not is_loopback(address[0]):
                problems.append(f"service {service!r}: {address[0]} is not a loopback address "
                                "(only 127.0.0.1 / ::1 may be contacted)")
            continue
        if base in names:
            continue
        near = difflib.get_close_matches(base, names, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(f"service {service!r}: no service named {base!r}{hint}")
    return problems


class LocalProbes:
    """A plugin object providing the probes of ``--probe-path`` folders and files."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        self.paths = [Path(p) for p in paths]

    @hookimpl
    def patchcheck_add_probes(self) -> list[ProbeSpec]:
        probes: list[ProbeSpec] = []
        for path in self.paths:
            if path.is_dir():
                probes.extend(load_probe_dir(path, origin=str(path)))
            elif path.is_file():
                probes.extend(load_probe_file(path, origin=str(path)))
            else:
                raise UsageError(f"probe path {path} does not exist",
                                 hint="pass a folder of probe files or a .py file")
        _check_unique(probes)
        return probes

    def __repr__(self) -> str:
        return f"LocalProbes({[str(p) for p in self.paths]!r})"
