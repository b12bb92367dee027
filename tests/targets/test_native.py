"""The native-code check (patchcheck.targets.native) on real compiled files.

The C test packages are compiled once per session with the real compiler; synthetic shared
libraries (a bundled "client library" chain) are compiled with gcc directly. Nothing is
imported from the scanned files by the scanner itself; the venv test imports pc_native_io in a
child interpreter only to prove the package the other tests rely on really works.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest
from pc_testutil import system_site_venv

from patchcheck.model import Severity
from patchcheck.targets import native
from patchcheck.verdicts.codes import CODES
from patchcheck.verdicts.evidence import NativeIO

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "tests" / "packages"


def _load_build() -> ModuleType:
    # tests/ is not necessarily a package: load the helper by path.
    spec = importlib.util.spec_from_file_location("pc_packages_build", PACKAGES / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


@pytest.fixture(scope="session")
def native_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both C test packages compiled and installed into one --target folder."""
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler")
    target = tmp_path_factory.mktemp("native-site")
    for name in build.NATIVE:
        build.build_and_install(PACKAGES / name, sys.executable, target_dir=target)
    return target


def _dist_files(site: Path, name: str) -> list[str]:
    """A distribution's files as the targets layer gets them: importlib.metadata RECORD."""
    dists = [d for d in importlib.metadata.distributions(path=[str(site)])
             if d.metadata["Name"] == name]
    assert dists, f"{name} not installed in {site}"
    return [str(f.locate()) for f in dists[0].files or ()]


def _extension(site: Path, package: str) -> Path:
    found = sorted((site / package).glob("*.so"))
    assert len(found) == 1, found
    return found[0]


# --- the two test packages ------------------------------------------------------------------
def test_io_extension_reports_network_calls(native_site: Path) -> None:
    report = native.scan_file(_extension(native_site, "pc_native_io"))

    assert report is not None and report.error is None
    assert report.is_extension
    assert {"connect", "recv"} <= set(report.symbols["network"])
    assert "dns" not in report.symbols  # numeric addresses only, by design of the package
    assert report.calls_blocking


def test_io_distribution_gives_one_pc140(native_site: Path) -> None:
    reports = native.scan_distribution(_dist_files(native_site, "pc-native-io"))
    findings = native.findings_for(reports)

    assert [f.code for f in findings] == ["PC140"]
    finding = findings[0]
    # its own socket calls: probably blocks the hub (verdict suspect), as the code table says
    assert finding.severity is Severity.SUSPECT is CODES["PC140"].severity
    assert finding.check == "native"
    assert "connect" in finding.summary and "pc_native_io/_io" in finding.summary
    assert finding.evidence.file.endswith(".so")
    assert {"connect", "recv"} <= set(finding.evidence.symbols["network"])
    assert finding.evidence.libraries == ()
    assert finding.hint and "probe" in finding.hint
    # The evidence is JSON (it goes into reports and the cache as is).
    assert type(finding).from_json(finding.to_json()) == finding


def test_compute_extension_reports_nothing(native_site: Path) -> None:
    report = native.scan_file(_extension(native_site, "pc_native_compute"))
    assert report is not None and report.error is None
    assert report.is_extension
    assert not report.primary_symbols and not report.libraries
    assert not report.has_findings

    reports = native.scan_distribution(_dist_files(native_site, "pc-native-compute"))
    assert reports == []
    assert native.findings_for(reports) == []


def test_pure_python_files_are_not_opened(native_site: Path, tmp_path: Path) -> None:
    files = [str(p) for p in (native_site / "pc_native_io").rglob("*.py")]
    assert files
    assert native.scan_distribution(files + [str(tmp_path / "missing.py")]) == []


def _slow_server(reply: bytes, delay: float) -> tuple[socket.socket, threading.Thread]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(100)
                time.sleep(delay)
                try:
                    conn.sendall(reply)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def test_pc_native_io_installs_and_works_in_a_venv(tmp_path: Path) -> None:
    """build_and_install() into ``venv --system-site-packages``; fetch() really does I/O."""
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler")
    venv = tmp_path / "venv"
    python = Path(system_site_venv(venv, with_pip=False, timeout=120))
    # --without-pip: the system pip is visible through --system-site-packages, and creating
    # the venv is 5x faster.
    site = build.build_and_install(PACKAGES / "pc_native_io", python)
    assert (site / "pc_native_io").is_dir()
    assert str(site).startswith(str(venv))

    server, thread = _slow_server(b"pong", delay=0.2)
    port = server.getsockname()[1]
    code = (
        "import sys, pc_native_io\n"
        "assert pc_native_io.__file__.startswith(sys.prefix), pc_native_io.__file__\n"
        f"print(pc_native_io.fetch('127.0.0.1', {port}, 5.0, request=b'ping'))\n"
        "try:\n"
        f"    pc_native_io.fetch('127.0.0.1', {port}, 0.05, request=b'ping')\n"
        "except TimeoutError:\n"
        "    print('timeout')\n"
    )
    try:
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                              timeout=60)
    finally:
        server.close()
        thread.join(5)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["b'pong'", "timeout"]


def test_build_and_install_refuses_the_system_interpreter() -> None:
    # The base interpreter, also when the tests run in the checkout's .venv (as in CI).
    base = Path(sys.base_prefix) / "bin" / Path(sys.executable).name
    if not base.exists():
        base = Path(sys.base_prefix) / "bin" / "python3"
    with pytest.raises(build.BuildError, match="not a virtual environment"):
        build.build_and_install(PACKAGES / "pc_native_compute", str(base))


# --- a bundled client library chain, compiled here ------------------------------------------
_NET_LIB = r"""
#include <sys/socket.h>
int pc_dial(int fd, const struct sockaddr *a, socklen_t n) { return connect(fd, a, n); }
"""
_CLIENT_LIB = r"""
int pc_query(void) { return 42; }
"""
_EXT = r"""
extern int pc_dial(void *, void *, int);
extern int pc_query(void);
void *PyInit_fake(void) { return (void *)(long)(pc_dial(0, 0, 0) + pc_query()); }
"""
_EXT2 = r"""
extern int pc_dial(void *, void *, int);
void *PyInit_plain(void) { return (void *)(long)pc_dial(0, 0, 0); }
"""


@pytest.fixture(scope="session")
def fake_wheel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An auditwheel-shaped install: ext → fake.libs/libpcnet-….so (calls connect), and
    ext → fake.libs/libpq-deadbeef.so.5 (a "client library" by name); plus an unlinked lib."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    root = tmp_path_factory.mktemp("fake-wheel")
    libs = root / "fake.libs"
    pkg = root / "fake"
    libs.mkdir()
    pkg.mkdir()
    out = {
        "net": libs / "libpcnet-0a1b2c3d.so.1",
        "pq": libs / "libpq-deadbeef.so.5",
        "loose": libs / "libpcloose-11223344.so",
        "ext": pkg / "_fake.cpython-311-x86_64-linux-gnu.so",
        "ext2": pkg / "_plain.cpython-311-x86_64-linux-gnu.so",
    }
    for key, source in (("net", _NET_LIB), ("pq", _CLIENT_LIB), ("loose", _NET_LIB)):
        src = root / f"{key}.c"
        src.write_text(source)
        subprocess.run([cc, "-shared", "-fPIC", "-o", str(out[key]), str(src),
                        f"-Wl,-soname,{out[key].name}"], check=True, timeout=120)
    # Link against the exact file names, as auditwheel rewrites DT_NEEDED to them.
    for key, source, linked in (("ext", _EXT, ("net", "pq")), ("ext2", _EXT2, ("net",))):
        src = root / f"{key}.c"
        src.write_text(source)
        subprocess.run([cc, "-shared", "-fPIC", "-o", str(out[key]), str(src), f"-L{libs}",
                        *(f"-l:{out[k].name}" for k in linked),
                        "-Wl,-rpath,$ORIGIN/../fake.libs"], check=True, timeout=120)
    return out


def test_bundled_chain_counts_towards_the_extension(fake_wheel: dict[str, Path]) -> None:
    files = [str(p) for k, p in fake_wheel.items() if k != "ext2"]
    reports = native.scan_distribution(files)
    by_path = {r.path: r for r in reports}

    ext = by_path[str(fake_wheel["ext"])]
    assert ext.is_extension
    assert not ext.primary_symbols  # the extension itself calls no libc I/O…
    # The client library it loads is in ``via``; the helper with network calls in ``helpers``.
    via = {Path(v.path).name: v for v in ext.via}
    assert set(via) == {fake_wheel["pq"].name}
    (helper,) = ext.helpers
    assert helper.path == str(fake_wheel["net"])
    assert helper.symbols["network"] == ("connect",)
    assert helper.needed_by == str(fake_wheel["ext"])
    assert not ext.calls_blocking  # a helper's calls are not the extension's own I/O
    assert [lib.soname for lib in ext.libraries] == [fake_wheel["pq"].name]

    # Libraries reached from an extension are folded into it; an unlinked bundled library
    # that is not a client library is a helper: listed, not a finding of its own.
    assert str(fake_wheel["net"]) not in by_path
    assert str(fake_wheel["pq"]) not in by_path
    assert by_path[str(fake_wheel["loose"])].symbols["network"] == ("connect",)
    assert by_path[str(fake_wheel["loose"])].is_helper

    findings = {f.evidence.file: f for f in native.findings_for(reports)}
    f_ext = findings[str(fake_wheel["ext"])]
    assert f_ext.code == "PC141"
    assert "PostgreSQL" in f_ext.summary and fake_wheel["pq"].name in f_ext.summary
    assert {Path(v["file"]).name for v in f_ext.evidence.via} == set(via)
    assert f_ext.evidence.chain == (fake_wheel["ext"].name, fake_wheel["pq"].name)
    assert set(findings) == {str(fake_wheel["ext"])}  # the loose helper is no finding…
    assert sorted(b.file for b in f_ext.evidence.bundles) == sorted(  # …but listed, once
        [str(fake_wheel["loose"]), str(fake_wheel["net"])])


def test_chain_without_client_library_is_info_through_a_helper(
        fake_wheel: dict[str, Path]) -> None:
    """ext2 → libpcnet (connect): network calls only in a bundled helper (Pillow → libxcb)."""
    files = [str(fake_wheel["ext2"]), str(fake_wheel["net"])]  # links no client library
    (finding,) = native.findings_for(native.scan_distribution(files))
    assert finding.code == "PC140"
    assert finding.severity is Severity.INFO
    assert finding.evidence.io is NativeIO.BUNDLED_HELPER
    assert [b.file for b in finding.evidence.bundles] == [str(fake_wheel["net"])]


def test_copies_and_symlinks_of_one_file_count_once(fake_wheel: dict[str, Path],
                                                    tmp_path: Path) -> None:
    """A wheel holds ``libkrb5.so.3`` and ``libkrb5.so.3.3`` as two byte-equal copies."""
    libs = tmp_path / "copies.libs"
    libs.mkdir()
    first = libs / "libpcloose.so.1"
    shutil.copy(fake_wheel["loose"], first)
    shutil.copy(fake_wheel["loose"], libs / "libpcloose.so.1.2.3")
    (libs / "libpcloose.so").symlink_to(first.name)
    reports = native.scan_distribution(sorted(str(p) for p in libs.iterdir()))
    assert len(reports) == 1
    assert len(reports[0].copies) == 2
    (finding,) = native.findings_for(reports)
    assert finding.severity is Severity.INFO
    assert len(finding.evidence.bundles) == 1 and finding.evidence.bundles[0].copies == 2


# --- real wheels in this environment --------------------------------------------------------
def _installed_files(name: str) -> list[str]:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{name} is not installed here (pip install {name})")
    return [str(f.locate()) for f in dist.files or ()]


def test_psycopg2_binary_names_bundled_libpq() -> None:
    files = _installed_files("psycopg2-binary")
    reports = native.scan_distribution(files)
    findings = native.findings_for(reports)

    ext = [f for f in findings if "_psycopg" in f.evidence.file]
    assert len(ext) == 1, [f.summary for f in findings]
    finding = ext[0]
    assert finding.code == "PC141"
    assert "libpq" in finding.summary
    libpq = [v for v in finding.evidence.via if Path(v["file"]).name.startswith("libpq")]
    assert libpq, finding.evidence.via
    assert "psycopg2_binary.libs" in libpq[0]["file"]
    assert "connect" in libpq[0]["symbols"]["network"]


@pytest.mark.parametrize("name", ["numpy", "scipy"])
def test_compute_wheels_with_bundled_runtimes_are_not_flagged(name: str) -> None:
    """numpy/scipy bundle OpenBLAS (pthread_cond_wait) and libgfortran (sleep, system):
    secondary categories, so no finding."""
    reports = native.scan_distribution(_installed_files(name))
    assert native.findings_for(reports) == []


# --- bad input never raises -----------------------------------------------------------------
@pytest.mark.parametrize("content", [
    b"",
    b"not a shared object at all\n",
    b"\xcf\xfa\xed\xfe" + b"\0" * 60,  # Mach-O 64 (a macOS .so)
    b"MZ\x90\0" + b"\0" * 60,  # PE (a Windows .pyd)
])
def test_non_elf_files_are_skipped(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "_mod.cpython-311-darwin.so"
    path.write_bytes(content)
    assert native.scan_file(path) is None
    assert native.scan_distribution([str(path)]) == []


def test_corrupt_elf_gives_an_error_report(tmp_path: Path, native_site: Path) -> None:
    garbage = tmp_path / "garbage.so"
    garbage.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    real = _extension(native_site, "pc_native_io").read_bytes()
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes(real[:300])  # header intact, section headers gone

    for path in (garbage, truncated):
        report = native.scan_file(path)
        assert report is not None, path
        assert report.error, path
        reports = native.scan_distribution([str(path)])
        assert reports and reports[0].error
        assert native.findings_for(reports) == []  # patchcheck's problem, not a verdict
        assert native.problems_for(reports) == [f"native check: {path}: {report.error}"]


def test_unreadable_file_gives_an_error_report(tmp_path: Path) -> None:
    report = native.scan_file(tmp_path / "gone.so")
    assert report is not None and report.error and "cannot read" in report.error


def test_no_section_headers_falls_back_to_the_dynamic_segment(
        tmp_path: Path, native_site: Path) -> None:
    """sstrip'ed files have no section headers; the loader (and we) use PT_DYNAMIC."""
    data = bytearray(_extension(native_site, "pc_native_io").read_bytes())
    if data[4:6] != b"\x02\x01":
        pytest.skip("this test edits a 64-bit little-endian ELF header")
    struct.pack_into("<Q", data, 0x28, 0)  # e_shoff
    struct.pack_into("<HHH", data, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    stripped = tmp_path / "_io.so"
    stripped.write_bytes(bytes(data))

    report = native.scan_file(stripped)
    assert report is not None and report.error is None
    assert report.is_extension
    assert {"connect", "recv"} <= set(report.symbols["network"])
    assert "libc.so.6" in report.needed


def test_32_bit_elf(tmp_path: Path) -> None:
    """The .dynsym entry layout differs for ELFCLASS32; build one with gcc -m32 and ld."""
    src = tmp_path / "t32.c"
    src.write_text("extern int connect(int, void *, int);\n"
                   "int PyInit_t32(int a, void *b, int c) { return connect(a, b, c); }\n")
    obj, lib = tmp_path / "t32.o", tmp_path / "t32.so"
    try:
        subprocess.run(["gcc", "-m32", "-fPIC", "-c", "-o", str(obj), str(src)],
                       check=True, capture_output=True, timeout=60)
        subprocess.run(["ld", "-m", "elf_i386", "-shared", "-o", str(lib), str(obj)],
                       check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no 32-bit toolchain (gcc -m32, ld -m elf_i386)")
    report = native.scan_file(lib)
    assert report is not None and report.error is None
    assert report.is_extension
    assert report.symbols == {"network": ("connect",)}


# --- tables ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("connect", "connect"),
    ("connect@GLIBC_2.2.5", "connect"),
    ("recv@@GLIBC_2.2.5", "recv"),
    ("__recv_chk", "recv"),
    ("__poll_chk", "poll"),
    ("__ppoll64_chk", "ppoll"),
    ("__nanosleep64", "nanosleep"),
    ("__clock_nanosleep_time64", "clock_nanosleep"),
    ("__res_query", "res_query"),
    ("SSL_read", "SSL_read"),
    ("read", None),
    ("write", None),
    ("memcpy", None),
    ("__memcpy_chk", None),
    ("connector_init", None),
])
def test_canonical_symbol(raw: str, expected: str | None) -> None:
    assert native.canonical_symbol(raw) == expected


@pytest.mark.parametrize(("soname", "expected"), [
    ("libpq.so.5", "libpq"),
    ("libpq-a17e3caa.so.5.17", "libpq"),
    ("libmysqlclient.so.21", "libmysqlclient"),
    ("libmariadb.so.3", "libmariadb"),
    ("libcurl-gnutls.so.4", "libcurl"),
    ("libzmq-4a2b6e1c.so.5.2.5", "libzmq"),
    ("librdkafka.so.1", "librdkafka"),
    ("libldap-2.5.so.0", "libldap"),
    ("libodbc.so.2", "ODBC"),
    ("libssl.so.3", None),
    ("libcrypto-fb8d5b21.so.3", None),
    ("libsasl2.so.2", None),
    ("libpqxx-7.8.so", None),
    ("libc.so.6", None),
])
def test_client_library_patterns(soname: str, expected: str | None) -> None:
    human = native._client_library(soname)
    if expected is None:
        assert human is None
    else:
        assert human is not None and expected in human


def test_every_symbol_has_one_category() -> None:
    seen: dict[str, str] = {}
    for category, names in native.BLOCKING_SYMBOLS.items():
        for name in names:
            assert name not in seen, (name, category, seen.get(name))
            seen[name] = category
    assert native.PRIMARY_CATEGORIES <= set(native.BLOCKING_SYMBOLS)
    assert not {"read", "write"} & set(seen)



# --- in a scan: an unreadable file is reported, not dropped ---------------------------------
@pytest.fixture(scope="module")
def garbage_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    from pc_testutil import build_venv, shared_tmp

    python = build_venv(shared_tmp(tmp_path_factory), "native-garbage-venv",
                        [PACKAGES / "pc_native_garbage"])
    # This checkout's patchcheck first, before the system's install (git worktrees).
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_patchcheck_checkout.pth").write_text(str(ROOT) + "\n")
    return python


def test_a_scan_reports_a_shared_object_it_cannot_read(garbage_python: str,
                                                       tmp_path: Path) -> None:
    import json
    import os

    env = {**os.environ, "PATCHCHECK_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([garbage_python, "-m", "patchcheck", "scan", "pc_native_garbage",
                           "--python", garbage_python, "--format", "json", "--no-probes"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 3, proc.stderr  # patchcheck's own problem: no verdict to trust
    doc = json.loads(proc.stdout)
    (problem,) = doc["problems"]
    assert problem.startswith("pc-native-garbage: native check: ")
    assert "pc_native_garbage/libgarbage.so.1: malformed ELF" in problem
    (result,) = doc["results"]
    assert not [f for f in result["findings"] if f["code"] in ("PC140", "PC141")]


def _real_shared_objects() -> list[str]:
    """Shared objects installed in this environment (gevent's and greenlet's at least)."""
    found: set[str] = set()
    for name in ("gevent", "greenlet", "zope.interface", "PyYAML", "cffi", "psycopg2-binary"):
        try:
            files = importlib.metadata.distribution(name).files or ()
        except importlib.metadata.PackageNotFoundError:
            continue
        found.update(str(f.locate()) for f in files if ".so" in f.name)
    return sorted(found)


@pytest.mark.parametrize("path", _real_shared_objects())
def test_the_plain_reader_finds_what_pyelftools_finds(path: str) -> None:
    # The struct reader replaces pyelftools for ordinary files; both must see the same file.
    with open(path, "rb") as stream:
        needed, soname, symbols, rustc = native._read_elf_fast(stream)
        fast = (needed, soname, sorted(symbols), rustc)
        stream.seek(0)
        needed, soname, symbols, rustc = native._read_elf_pyelftools(stream)
        slow = (needed, soname, sorted(symbols), rustc)
    assert fast == slow
    assert fast[2]  # a real extension has dynamic symbols


def test_the_plain_reader_defers_odd_files_to_pyelftools(tmp_path: Path, native_site: Path
                                                         ) -> None:
    data = _extension(native_site, "pc_native_io").read_bytes()
    for odd in (data[:300], b"\x7fELF" + bytes(range(256))):
        path = tmp_path / "odd.so"
        path.write_bytes(odd)
        with open(path, "rb") as stream, pytest.raises(native._NotPlain):
            native._read_elf_fast(stream)


def test_a_lone_getnameinfo_is_info_not_suspect() -> None:
    """psutil's _psutil_linux imports getnameinfo (interface addresses to text) and no socket
    call: no I/O of its own to block on (issue #15.3). With a socket call it is suspect."""
    alone = native.NativeFileReport(path="/site/psutil/_psutil_linux.abi3.so", is_extension=True,
                                    symbols={"dns": ("getnameinfo",)})
    (finding,) = native.findings_for([alone])
    assert (finding.code, finding.severity) == ("PC140", Severity.INFO)
    assert "only getnameinfo" in finding.summary
    with_io = native.NativeFileReport(path="/site/x/_x.so", is_extension=True,
                                      symbols={"dns": ("getnameinfo",), "network": ("connect",)})
    (finding,) = native.findings_for([with_io])
    assert finding.severity is Severity.SUSPECT


def test_real_psutil_is_not_suspect() -> None:
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution("psutil")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("psutil is not installed here (pip install psutil)")
    reports = native.scan_distribution(str(f.locate()) for f in dist.files or ())
    assert all(f.severity <= Severity.INFO for f in native.findings_for(reports)
               if f.code == "PC140")
