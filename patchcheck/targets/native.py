"""Check 4, "native code": which shared objects of a distribution may block the gevent hub.

gevent's monkey-patching replaces Python-level ``socket``, ``select``, ``time.sleep`` …; a C
extension that calls libc's ``connect()``/``recv()`` (or a C client library such as libpq)
directly never goes through them, so while it waits the hub, and every greenlet, stands still
(psycogreen's README: "Because the main module is a C extension it cannot be monkey-patched").

This module runs in the **tool process**. It never imports the files it looks at: it reads
their ELF dynamic symbol table (``.dynsym``: the functions a file imports from other shared
objects) and their ``DT_NEEDED`` entries (the libraries it links). Both are what the dynamic
linker itself uses, so they survive ``strip``. What this cannot see: libraries loaded with
``dlopen()`` (ctypes, cffi ABI mode, ODPI-C for Oracle) and system calls made without libc
wrappers. The result is a list of *candidates*; a probe measures whether they really block.

Non-ELF files (Mach-O ``.so`` on macOS, PE ``.pyd`` on Windows) are skipped: ``scan_file``
returns ``None``. A file that looks like ELF but cannot be parsed gives a report with ``error``
set. Nothing here raises for a bad file (docs/architecture.md, "Hard rules": a detector
never raises).
"""
from __future__ import annotations

import os
import re
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from patchcheck.model import Finding, Severity
from patchcheck.verdicts.evidence import evidence_from_json

__all__ = [
    "BLOCKING_SYMBOLS",
    "PRIMARY_CATEGORIES",
    "CLIENT_LIBRARIES",
    "ClientLibrary",
    "NativeFileReport",
    "scan_file",
    "scan_distribution",
    "findings_for",
    "problems_for",
    "canonical_symbol",
]

CHECK = "native"
CODE_BLOCKING_CALLS = "PC140"
CODE_CLIENT_LIBRARY = "PC141"

# --------------------------------------------------------------------------------------------
# Which imported functions matter, by category.
#
# Only *imported* (undefined) dynamic symbols count: a library that defines its own function
# called ``connect`` is not calling libc's.
#
# Left out on purpose:
# - ``read``/``write``/``open``/``close``/``fcntl``/``ioctl``: every shared object that touches
#   a file imports them (numpy, libgfortran, …). A C extension that does socket I/O with
#   ``read()`` still has to ``connect()``/``accept()`` first, which *is* listed.
# - ``socket``/``bind``/``listen``/``setsockopt``: they do not wait.
# - ``pthread_mutex_lock``: every threaded library; a mutex held for long is a bug, not I/O.
# --------------------------------------------------------------------------------------------
BLOCKING_SYMBOLS: Mapping[str, frozenset[str]] = {
    # Waiting on a peer over a socket. The strongest evidence of native network I/O: compute
    # code has no reason to import these.
    "network": frozenset({
        "connect", "accept", "accept4",
        "recv", "recvfrom", "recvmsg", "recvmmsg",
        "send", "sendto", "sendmsg", "sendmmsg",
    }),
    # Name resolution: glibc's resolver blocks on a UDP/TCP round trip to the DNS server
    # (gevent patches socket.getaddrinfo, not libc's).
    "dns": frozenset({
        "getaddrinfo", "getaddrinfo_a", "getnameinfo",
        "gethostbyname", "gethostbyname2", "gethostbyname_r", "gethostbyname2_r",
        "gethostbyaddr", "gethostbyaddr_r",
        "res_query", "res_search", "res_querydomain", "res_nquery", "res_nsearch",
        "res_nquerydomain", "res_send", "res_nsend",
    }),
    # OpenSSL's I/O entry points when libssl is linked dynamically: on a socket BIO they read
    # and write the socket themselves. (A statically linked TLS library shows up as
    # "network" instead, because it imports recv/send/connect from libc.)
    "tls": frozenset({
        "SSL_connect", "SSL_accept", "SSL_do_handshake",
        "SSL_read", "SSL_read_ex", "SSL_peek", "SSL_peek_ex",
        "SSL_write", "SSL_write_ex",
    }),
    # Waiting for file descriptors. Secondary: language runtimes import these without doing
    # I/O (Rust's std calls poll() on fds 0-2 at start-up, so pydantic_core and rpds import
    # it), and every event loop (libuv, libev) does too.
    "poll": frozenset({
        "poll", "ppoll", "select", "pselect",
        "epoll_wait", "epoll_pwait", "epoll_pwait2",
    }),
    # Sleeping. Secondary: a sleep in C stalls the hub, but runtimes import these for spin
    # back-off and intrinsics (libgfortran's SLEEP, bundled with numpy and scipy).
    "sleep": frozenset({"sleep", "usleep", "nanosleep", "clock_nanosleep"}),
    # Waiting on another thread or process. Secondary: every thread pool imports condition
    # variables (OpenBLAS in numpy.libs does), and libgfortran imports system() for its
    # EXECUTE_COMMAND_LINE intrinsic. Shown as context when a primary category is present.
    "wait": frozenset({
        "pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait",
        "sem_wait", "sem_timedwait", "sem_clockwait", "pthread_join",
        "flock", "lockf",
        "waitpid", "wait", "wait4", "waitid", "system",
    }),
}

#: Categories that on their own make a file a candidate (PC140). The others are reported as
#: context only: measured on a real environment (numpy, scipy, pydantic_core, rpds,
#: cryptography, gevent), only "network"/"dns"/"tls" separate native I/O from compute code.
PRIMARY_CATEGORIES: frozenset[str] = frozenset({"network", "dns", "tls"})

_CATEGORY_OF: dict[str, str] = {
    name: category for category, names in BLOCKING_SYMBOLS.items() for name in names
}

# Aliases the headers substitute for the plain names: _FORTIFY_SOURCE (``__recv_chk``),
# 64-bit time_t on 32-bit glibc (``__nanosleep64``, ``__clock_nanosleep_time64``) and musl
# (``__select_time64``), and the old libresolv exports (``__res_query``).
_ALIAS = re.compile(r"^__(?P<base>[A-Za-z_0-9]+?)(?:_time64|64)?(?:_chk)?$")


def canonical_symbol(name: str) -> str | None:
    """The listed function a dynamic symbol name stands for, or ``None``.

    ``connect@GLIBC_2.2.5`` → ``connect``; ``__recv_chk`` → ``recv``; ``memcpy`` → ``None``.
    """
    base = name.split("@", 1)[0]
    if base in _CATEGORY_OF:
        return base
    m = _ALIAS.match(base)
    if m and m.group("base") in _CATEGORY_OF:
        return m.group("base")
    return None


# --------------------------------------------------------------------------------------------
# C client libraries that do their own network I/O, matched against DT_NEEDED entries (and a
# bundled library's own file name / DT_SONAME). Patterns match at the start of the soname and
# stop at "-" or ".", so they also match auditwheel's renamed copies
# (``libpq-9bb6e5bf.so.5.16`` in psycopg2_binary.libs/) and versioned names
# (``libldap-2.5.so.0``, ``libcurl-gnutls.so.4``).
#
# Left out on purpose:
# - libssl/libcrypto: linked by anything that hashes or encrypts (cryptography, hashlib
#   users); TLS I/O is caught by importing SSL_read/SSL_write ("tls" above) instead.
# - libsasl2, libgssapi_krb5: authentication frameworks, linked alongside a real client
#   (libpq, libldap) which is named anyway.
# - libnghttp2, libprotobuf: protocol framing only, no I/O of their own.
# - libuv, libev, libevent: event loops (gevent's own backends); a loop reports "poll".
# --------------------------------------------------------------------------------------------
CLIENT_LIBRARIES: Mapping[str, str] = {
    r"libpq": "PostgreSQL client (libpq)",
    r"libmysqlclient(?:_r)?": "MySQL client (libmysqlclient)",
    r"libmariadb": "MariaDB client (libmariadb)",
    r"libcurl(?:-gnutls|-nss|-openssl)?": "HTTP client (libcurl)",
    r"libzmq": "ZeroMQ (libzmq)",
    r"librdkafka(?:\+\+)?": "Kafka client (librdkafka)",
    r"libmemcached": "memcached client (libmemcached)",
    r"libgrpc(?:\+\+)?(?:_unsecure)?": "gRPC core (libgrpc)",
    # c-ares is non-blocking by design, but its sockets are polled by whoever embeds it,
    # not by gevent's hub (gevent's own resolver compiles it in statically instead).
    r"libcares": "DNS resolver (c-ares)",
    r"libldap(?:_r)?": "LDAP client (libldap)",
    r"libodbc|libiodbc": "ODBC driver manager (drivers do network I/O)",
    r"libsybdb": "SQL Server / Sybase client (FreeTDS)",
    r"libclntsh": "Oracle client (OCI)",
    r"libssh2?": "SSH client (libssh/libssh2)",
    r"libsmbclient": "SMB client (libsmbclient)",
    r"librabbitmq": "AMQP client (librabbitmq)",
    r"libmosquitto": "MQTT client (libmosquitto)",
    r"libhiredis(?:_ssl)?": "Redis client (hiredis)",
    r"libmongoc": "MongoDB client (libmongoc)",
    r"libcassandra": "Cassandra client (DataStax C++ driver)",
    r"libnetsnmp": "SNMP client (Net-SNMP)",
    r"libkrb5": "Kerberos client (libkrb5, talks to the KDC)",
    r"libdbus-1": "D-Bus client (libdbus)",
}

_CLIENT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"^(?:{stem})(?:[-.]|$)"), human) for stem, human in CLIENT_LIBRARIES.items()
)


def _client_library(soname: str) -> str | None:
    for pattern, human in _CLIENT_PATTERNS:
        if pattern.match(soname):
            return human
    return None


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientLibrary:
    """A linked library that does its own network I/O."""

    soname: str  # as written in DT_NEEDED (or the bundled file's name)
    name: str  # human readable, from CLIENT_LIBRARIES

    def to_json(self) -> dict[str, str]:
        return {"soname": self.soname, "name": self.name}


@dataclass(frozen=True)
class NativeFileReport:
    """What one shared object imports and links.

    ``symbols`` are the file's *own* imports, ``category -> sorted canonical names``.
    ``via`` (filled by ``scan_distribution``) holds the libraries bundled in the same
    distribution that this file loads, directly or transitively, and that have something to
    report themselves: e.g. psycopg2's ``_psycopg`` → ``psycopg2_binary.libs/libpq-….so``.
    """

    path: str
    is_extension: bool  # exports PyInit_<name>: Python imports it
    symbols: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    libraries: tuple[ClientLibrary, ...] = ()
    needed: tuple[str, ...] = ()  # every DT_NEEDED entry, in file order
    soname: str | None = None  # DT_SONAME, for bundled libraries
    error: str | None = None  # set when the file looked like ELF but could not be read
    via: tuple[NativeFileReport, ...] = ()
    needed_by: str | None = None  # in ``via``: the file that lists this one in DT_NEEDED

    @property
    def primary_symbols(self) -> Mapping[str, tuple[str, ...]]:
        """Own imports in the categories that make a file a candidate."""
        return {c: s for c, s in self.symbols.items() if c in PRIMARY_CATEGORIES}

    @property
    def all_symbols(self) -> dict[str, tuple[str, ...]]:
        """Own imports merged with those of ``via`` (sorted, categories in table order)."""
        merged: dict[str, set[str]] = {}
        for report in (self, *self.via):
            for category, names in report.symbols.items():
                merged.setdefault(category, set()).update(names)
        return {c: tuple(sorted(merged[c])) for c in BLOCKING_SYMBOLS if c in merged}

    @property
    def all_libraries(self) -> tuple[ClientLibrary, ...]:
        seen: dict[str, ClientLibrary] = {}
        for report in (self, *self.via):
            for lib in report.libraries:
                seen.setdefault(lib.soname, lib)
        return tuple(seen.values())

    @property
    def calls_blocking(self) -> bool:
        """It or a bundled library it loads imports a primary blocking function."""
        return any(c in PRIMARY_CATEGORIES for c in self.all_symbols)

    @property
    def has_findings(self) -> bool:
        """Worth reporting: a candidate, a client library, or a file that could not be read."""
        return (self.error is not None or any(v.error is not None for v in self.via)
                or self.calls_blocking or bool(self.all_libraries))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file": self.path,
            "extension": self.is_extension,
            "symbols": {c: list(s) for c, s in self.symbols.items()},
            "libraries": [lib.to_json() for lib in self.libraries],
        }
        if self.needed_by:
            data["needed_by"] = self.needed_by
        if self.error:
            data["error"] = self.error
        if self.via:
            data["via"] = [v.to_json() for v in self.via]
        return data


# --------------------------------------------------------------------------------------------
# Reading one file
# --------------------------------------------------------------------------------------------
_ELF_MAGIC = b"\x7fELF"
_SHN_UNDEF = 0
_STB_GLOBAL, _STB_WEAK = 1, 2


def scan_file(path: str | os.PathLike[str]) -> NativeFileReport | None:
    """Read one file's dynamic imports and links; ``None`` if it is not an ELF file.

    Never raises: unreadable or malformed ELF files give a report with ``error`` set.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            if stream.read(4) != _ELF_MAGIC:
                return None
            stream.seek(0)
            return _scan_elf(path, stream)
    except OSError as exc:
        return NativeFileReport(path=path, is_extension=False,
                                error=f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - pyelftools raises many types on bad input
        return NativeFileReport(path=path, is_extension=False,
                                error=f"malformed ELF: {type(exc).__name__}: {exc}")


def _scan_elf(path: str, stream: Any) -> NativeFileReport:
    # Imported lazily: the tool's other commands should not pay for pyelftools.
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(stream)
    needed: list[str] = []
    soname: str | None = None
    dynamic = elf.get_section_by_name(".dynamic") or _dynamic_segment(elf)
    if dynamic is not None and hasattr(dynamic, "iter_tags"):
        for tag in dynamic.iter_tags():
            if tag.entry.d_tag == "DT_NEEDED":
                needed.append(tag.needed)
            elif tag.entry.d_tag == "DT_SONAME":
                soname = tag.soname

    imported: set[str] = set()
    is_extension = False
    for name, defined, binding in _dynamic_symbols(elf):
        if binding not in (_STB_GLOBAL, _STB_WEAK):
            continue
        if not defined:
            imported.add(name)
        elif name.startswith("PyInit_"):
            is_extension = True

    found: dict[str, set[str]] = {}
    for raw in imported:
        canonical = canonical_symbol(raw)
        if canonical is not None:
            found.setdefault(_CATEGORY_OF[canonical], set()).add(canonical)
    symbols = {c: tuple(sorted(found[c])) for c in BLOCKING_SYMBOLS if c in found}

    libraries = []
    for entry in needed:
        human = _client_library(entry)
        if human is not None:
            libraries.append(ClientLibrary(entry, human))
    if not is_extension:
        # A bundled copy of a client library (loaded by an extension, or with ctypes) is
        # recognised by its own name too.
        own = soname or os.path.basename(path)
        human = _client_library(own)
        if human is not None:
            libraries.append(ClientLibrary(own, human))
    return NativeFileReport(
        path=path, is_extension=is_extension, symbols=symbols, libraries=tuple(libraries),
        needed=tuple(needed), soname=soname,
    )


def _dynamic_symbols(elf: Any) -> Iterator[tuple[str, bool, int]]:
    """``(name, defined, binding)`` for each entry of the dynamic symbol table.

    pyelftools finds the table; the entries are unpacked with ``struct`` because building a
    pyelftools ``Symbol`` per entry takes ~0.2 s for OpenBLAS's 11,000 symbols (numpy.libs),
    ~100x slower than this.
    """
    section = elf.get_section_by_name(".dynsym")
    if section is None:
        # No section headers (rare: sstrip'ed): the loader's view, the dynamic segment.
        # pyelftools' Symbol objects are slow, but this path almost never runs.
        segment = _dynamic_segment(elf)
        if segment is not None and hasattr(segment, "iter_symbols"):
            for sym in segment.iter_symbols():
                yield (sym.name, sym.entry.st_shndx != "SHN_UNDEF",
                       _binding_number(sym.entry.st_info.bind))
        return
    strtab = elf.get_section(section.header.sh_link).data()
    data = section.data()
    endian = "<" if elf.little_endian else ">"
    if elf.elfclass == 64:
        # st_name, st_info, st_other, st_shndx, st_value, st_size
        fmt, name_i, info_i, shndx_i = endian + "IBBHQQ", 0, 1, 3
    else:
        # st_name, st_value, st_size, st_info, st_other, st_shndx
        fmt, name_i, info_i, shndx_i = endian + "IIIBBH", 0, 3, 5
    size = struct.calcsize(fmt)
    usable = len(data) - len(data) % size
    for entry in struct.iter_unpack(fmt, data[:usable]):
        offset = entry[name_i]
        if offset == 0 or offset >= len(strtab):
            continue
        end = strtab.find(b"\0", offset)
        name = strtab[offset:end if end >= 0 else None].decode("ascii", "replace")
        yield name, entry[shndx_i] != _SHN_UNDEF, entry[info_i] >> 4


def _dynamic_segment(elf: Any) -> Any:
    for segment in elf.iter_segments():
        if segment.header.p_type == "PT_DYNAMIC":
            return segment
    return None


def _binding_number(bind: str) -> int:
    return {"STB_GLOBAL": _STB_GLOBAL, "STB_WEAK": _STB_WEAK}.get(bind, 0)


# --------------------------------------------------------------------------------------------
# A whole distribution
# --------------------------------------------------------------------------------------------
def _looks_like_shared_object(path: str) -> bool:
    """Cheap name filter so that a distribution's .py files are never opened."""
    name = os.path.basename(path)
    return name.endswith(".so") or ".so." in name


def scan_distribution(files: Iterable[str | os.PathLike[str]]) -> list[NativeFileReport]:
    """Reports for a distribution's shared objects that have something to say.

    ``files`` are the distribution's installed files (absolute paths, e.g. from
    ``importlib.metadata`` in the target interpreter); non-shared-object names are ignored.
    Each extension module gets the bundled libraries it loads in ``via``; a bundled library
    with findings that no extension links (loaded with ctypes/cffi, say) is reported on its
    own. Files with only secondary symbols (poll, sleep, wait) are left out.
    """
    reports: list[NativeFileReport] = []
    for path in files:
        path = os.fspath(path)
        if _looks_like_shared_object(path):
            report = scan_file(path)
            if report is not None:
                reports.append(report)

    # Resolve DT_NEEDED inside the distribution by file name and by DT_SONAME, which is how
    # auditwheel's $ORIGIN rpath makes the loader find psycopg2_binary.libs/libpq-….so.
    bundled: dict[str, NativeFileReport] = {}
    for report in reports:
        if not report.is_extension:
            bundled.setdefault(os.path.basename(report.path), report)
            if report.soname:
                bundled.setdefault(report.soname, report)

    reached: set[str] = set()
    out: list[NativeFileReport] = []
    for report in reports:
        if not report.is_extension:
            continue
        via = []
        for lib, parent in _bundled_closure(report, bundled):
            reached.add(lib.path)
            if lib.error or lib.primary_symbols or lib.libraries:
                via.append(_with(lib, needed_by=parent))
        full = _with(report, via=tuple(via))
        if full.has_findings:
            out.append(full)
    for report in reports:
        if not report.is_extension and report.path not in reached and report.has_findings:
            out.append(report)
    return out


def _bundled_closure(report: NativeFileReport, bundled: Mapping[str, NativeFileReport]
                     ) -> Iterator[tuple[NativeFileReport, str]]:
    """Bundled libraries ``report`` loads, breadth first, with the file that needs each."""
    seen = {report.path}
    queue = deque([report])
    while queue:
        current = queue.popleft()
        for entry in current.needed:
            lib = bundled.get(entry)
            if lib is None or lib.path in seen:
                continue
            seen.add(lib.path)
            queue.append(lib)
            yield lib, current.path


def _with(report: NativeFileReport, **changes: Any) -> NativeFileReport:
    return replace(report, **changes)


# --------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------
_HINT_CALLS = (
    "Native code does its own socket/DNS I/O in C, where gevent's monkey-patching cannot "
    "reach: while it waits, the gevent hub and every other greenlet may stand still. A probe "
    "measures whether it really blocks; without one, treat it as a risk. If it blocks, use the "
    "library's gevent/async mode if it has one, run the calls on gevent's threadpool "
    "(gevent.get_hub().threadpool.apply(...)), or switch to a pure-Python client."
)
_HINT_LIBRARY = (
    "{libs} does its own network I/O in C, so gevent's monkey-patching cannot make it "
    "cooperative: while a call waits, the gevent hub and every other greenlet may stand "
    "still. A probe measures whether it really blocks. Look for the library's wait-callback "
    "or async hook (psycogreen for psycopg2, zmq.green for pyzmq, "
    "grpc.experimental.gevent.init_gevent() for grpcio), or run the calls on gevent's "
    "threadpool."
)


def _display(path: str) -> str:
    """A short name for summaries: the part after site-packages, else ``folder/file``."""
    norm = path.replace(os.sep, "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            return norm.split(marker, 1)[1]
    return "/".join(norm.rsplit("/", 2)[-2:])


def _evidence(report: NativeFileReport) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "file": report.path,
        "extension": report.is_extension,
        "symbols": {c: list(s) for c, s in report.all_symbols.items()},
        "libraries": [lib.to_json() for lib in report.all_libraries],
    }
    if report.via:
        evidence["via"] = [v.to_json() for v in report.via]
    return evidence


def _short_list(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … (+{len(names) - limit})" if len(names) > limit else "")


def findings_for(reports: Iterable[NativeFileReport]) -> list[Finding]:
    """One finding per file with findings: PC141 if it links a client library, else PC140.

    A client library is the more specific explanation of the blocking calls in the chain
    (libpq imports connect/poll), so PC141 carries those symbols as evidence rather than a
    second PC140 for the same root cause. Compute-only files give no finding; files that
    could not be read give none either (``problems_for`` reports them as patchcheck's own
    problems).
    """
    findings: list[Finding] = []
    for report in reports:
        libraries = report.all_libraries
        where = _display(report.path)
        if libraries:
            # Name the libraries the file links itself (libpq), not what those link in turn
            # (libpq → libldap, libkrb5): the rest is in the evidence.
            headline = report.libraries or libraries
            names = [lib.name for lib in headline]
            bundled_names = {os.path.basename(v.path) for v in report.via} | {
                v.soname for v in report.via if v.soname}
            shipped = [lib.soname for lib in headline if lib.soname in bundled_names]
            chain = f" (bundled: {', '.join(shipped)})" if shipped else ""
            findings.append(Finding(
                code=CODE_CLIENT_LIBRARY,
                severity=Severity.WARNING,
                check=CHECK,
                summary=f"{where} links a network client library: {_short_list(names, 3)}{chain}",
                evidence=evidence_from_json(CODE_CLIENT_LIBRARY, _evidence(report)),
                hint=_HINT_LIBRARY.format(libs=_short_list([lib.name for lib in headline], 3)),
            ))
        elif report.calls_blocking:
            primary = [s for c, group in report.all_symbols.items()
                       if c in PRIMARY_CATEGORIES for s in group]
            origin = ""
            if report.via and not report.primary_symbols:
                origin = " through bundled " + ", ".join(
                    _display(v.path) for v in report.via if v.primary_symbols)
            findings.append(Finding(
                code=CODE_BLOCKING_CALLS,
                severity=Severity.WARNING,
                check=CHECK,
                summary=(f"{where}: native code calls blocking libc functions "
                         f"({_short_list(primary)}){origin}"),
                evidence=evidence_from_json(CODE_BLOCKING_CALLS, _evidence(report)),
                hint=_HINT_CALLS,
            ))
    return findings


def problems_for(reports: Iterable[NativeFileReport]) -> list[str]:
    """patchcheck's own failures to read a file (not library verdicts), one line each."""
    out = []
    for report in reports:
        for r in (report, *report.via):
            if r.error is not None:
                out.append(f"native check: {r.path}: {r.error}")
    return out
