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

import hashlib
import os
import re
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from patchcheck.model import Finding, Severity
from patchcheck.verdicts import evidence as ev

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
#: Primary symbols that alone are no socket I/O of the file's own: converting an address to
#: text (a reverse lookup only when asked for). A file with only these is info, not suspect.
NAME_INFO_ONLY: frozenset[str] = frozenset({"getnameinfo"})

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
# - libsasl2, libgssapi_krb5, libkrb5, libfido2: authentication frameworks, linked alongside
#   a real client (libpq, libldap, libmysqlclient) which is named anyway; they talk to a KDC or
#   a security key during a login, not to the application's services. Bundled, they are
#   "helpers" (see ``scan_distribution``).
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


# A client library linked statically into an extension leaves no DT_NEEDED entry, but its API
# is usually still exported (mysql-connector-python's ``_mysql_connector`` defines
# ``mysql_real_connect``: libmysqlclient is compiled in). One defining function per library,
# chosen because only the library itself defines it. c-ares is left out: gevent embeds it.
CLIENT_API_SYMBOLS: Mapping[str, str] = {
    "PQconnectdb": "libpq",
    "mysql_real_connect": "libmysqlclient",
    "curl_easy_perform": "libcurl",
    "zmq_ctx_new": "libzmq",
    "rd_kafka_new": "librdkafka",
    "memcached_create": "libmemcached",
    "ldap_initialize": "libldap",
    "redisConnect": "libhiredis",
    "libssh2_session_handshake": "libssh2",
    "mongoc_client_new": "libmongoc",
    "amqp_new_connection": "librabbitmq",
    "mosquitto_connect": "libmosquitto",
    "cass_session_connect": "libcassandra",
}

# Imports that only an event loop makes: Rust's standard library never calls epoll, so a
# Rust-built file that imports it carries an async runtime (mio/tokio), i.e. real network I/O.
_EVENT_LOOP_SYMBOLS = frozenset({"epoll_wait", "epoll_pwait", "epoll_pwait2"})

# Families of bundled helper libraries, only to name them readably in "also bundles: …".
# Which files are helpers is decided by structure (not an extension, not a client library).
_HELPER_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), family) for pattern, family in (
        (r"krb5|kerberos|gssapi|k5crypto|com_err|keyutils", "Kerberos"),
        (r"sasl|^lib(anonymous|crammd5|digestmd5|gs2|plain|scram|login|ntlm|otp)\b", "SASL"),
        (r"fido|cbor|webauthn|udev", "FIDO"),
        (r"^lib(ssl|crypto)\b", "OpenSSL"),
        (r"^libz\b", "zlib"),
        (r"xcb|^libX", "X11 (libxcb)"),
    ))


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientLibrary:
    """A linked library that does its own network I/O."""

    soname: str  # as written in DT_NEEDED (or the bundled file's name)
    name: str  # human readable, from CLIENT_LIBRARIES
    embedded: bool = False  # compiled into the file (found by its API, CLIENT_API_SYMBOLS)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"soname": self.soname, "name": self.name}
        if self.embedded:
            data["embedded"] = True
        return data


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
    built_by_rustc: bool = False  # ``.comment`` says "rustc version": Rust's std is linked in
    is_client_library: bool = False  # not an extension, and its own name is a client library
    copies: tuple[str, ...] = ()  # other paths of the same file (soname copies, symlinks)
    # Bundled helper libraries (neither an extension nor a client library) that it loads and
    # that import network calls: reported once, as secondary (``findings_for``).
    helpers: tuple[NativeFileReport, ...] = ()

    @property
    def is_helper(self) -> bool:
        return not self.is_extension and not self.is_client_library

    @property
    def quiet_runtime(self) -> bool:
        """Its own network imports are Rust's std::net, not a network client: built by rustc,
        no event loop (epoll) and no client library."""
        return (self.built_by_rustc and not self.libraries
                and not _EVENT_LOOP_SYMBOLS & set(self.symbols.get("poll", ())))

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
        if self.copies:
            data["copies"] = list(self.copies)
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
    try:
        needed, soname, symbols, rustc = _read_elf_fast(stream)
    except _NotPlain:
        stream.seek(0)
        needed, soname, symbols, rustc = _read_elf_pyelftools(stream)
    return _report(path, needed, soname, symbols, rustc)


def _report(path: str, needed: list[str], soname: str | None,
            symbols: Iterable[tuple[str, bool, int]], rustc: bool) -> NativeFileReport:
    imported: set[str] = set()
    embedded: dict[str, None] = {}
    is_extension = False
    for name, defined, binding in symbols:
        if binding not in (_STB_GLOBAL, _STB_WEAK):
            continue
        if not defined:
            imported.add(name)
        elif name.startswith("PyInit_"):
            is_extension = True
        elif name in CLIENT_API_SYMBOLS:
            embedded[CLIENT_API_SYMBOLS[name]] = None

    found: dict[str, set[str]] = {}
    for raw in imported:
        canonical = canonical_symbol(raw)
        if canonical is not None:
            found.setdefault(_CATEGORY_OF[canonical], set()).add(canonical)
    symbols_by_category = {c: tuple(sorted(found[c])) for c in BLOCKING_SYMBOLS if c in found}

    libraries = []
    for entry in needed:
        human = _client_library(entry)
        if human is not None:
            libraries.append(ClientLibrary(entry, human))
    is_client = False
    own = soname or os.path.basename(path)
    if not is_extension:
        # A bundled copy of a client library (loaded by an extension, or with ctypes) is
        # recognised by its own name too.
        human = _client_library(own)
        if human is not None:
            libraries.append(ClientLibrary(own, human))
            is_client = True
    if is_extension or not is_client:
        linked = {lib.name for lib in libraries}
        for stem in embedded:
            human = _client_library(stem)
            if human is not None and human not in linked:
                libraries.append(ClientLibrary(os.path.basename(path), human, embedded=True))
                is_client = is_client or not is_extension
    return NativeFileReport(
        path=path, is_extension=is_extension, symbols=symbols_by_category,
        libraries=tuple(libraries), needed=tuple(needed), soname=soname, built_by_rustc=rustc,
        is_client_library=is_client,
    )


class _NotPlain(Exception):
    """Not a file the plain reader handles (no section headers, compressed or odd sections,
    truncated): pyelftools reads it, and reports what is wrong with it."""


_SHT_DYNAMIC, _SHT_NOBITS = 6, 8
_SHF_COMPRESSED = 0x800
_SHN_XINDEX = 0xFFFF
_DT_NULL, _DT_NEEDED, _DT_SONAME = 0, 1, 14
# Section types whose sh_link pyelftools follows when it lists the sections (symbol tables,
# hash tables, symbol versions): a bad link there makes it fail, so the plain reader defers.
_LINKED_TYPES = frozenset({2, 5, 11, 18, 0x6FFFFFF6, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF})


def _read_elf_fast(stream: Any) -> tuple[list[str], str | None,
                                         Iterator[tuple[str, bool, int]], bool]:
    """DT_NEEDED, DT_SONAME, the .dynsym entries and "built by rustc" straight from the
    section headers with ``struct``: what ``_read_elf_pyelftools`` finds, ~30x faster (its
    ``construct`` parsing took 16 s for the 554 shared objects of a 160-distribution
    environment; ``bench/native_scan.py``). Anything unusual raises ``_NotPlain``."""
    stream.seek(0)
    head = stream.read(64)
    if len(head) < 52 or head[4] not in (1, 2) or head[5] not in (1, 2):
        raise _NotPlain
    endian = "<" if head[5] == 1 else ">"
    if head[4] == 2:
        if len(head) < 64:
            raise _NotPlain
        (shoff,) = struct.unpack_from(endian + "Q", head, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", head, 0x3A)
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, ...
        shdr = endian + "IIQQQQIIQQ"
        dyn = endian + "qQ"
    else:
        (shoff,) = struct.unpack_from(endian + "I", head, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", head, 0x2E)
        shdr = endian + "IIIIIIIIII"
        dyn = endian + "iI"
    size = struct.calcsize(shdr)
    if shoff == 0 or shentsize != size:
        raise _NotPlain

    def read_at(offset: int, length: int) -> bytes:
        stream.seek(offset)
        data = stream.read(length)
        if len(data) != length:
            raise _NotPlain
        return bytes(data)

    first = struct.unpack(shdr, read_at(shoff, size))
    if shnum == 0:  # more than 0xff00 sections: the real count is in section 0
        shnum = first[5]
    if shstrndx == _SHN_XINDEX:
        shstrndx = first[6]
    if not 0 < shnum <= 0x100000 or shstrndx >= shnum:
        raise _NotPlain
    table = read_at(shoff, size * shnum)
    sections = [struct.unpack_from(shdr, table, i * size) for i in range(shnum)]

    def contents(sec: tuple[int, ...]) -> bytes:
        if sec[2] & _SHF_COMPRESSED:
            raise _NotPlain
        if sec[1] == _SHT_NOBITS:
            raise _NotPlain
        return read_at(sec[4], sec[5])

    names = contents(sections[shstrndx])
    by_name: dict[bytes, int] = {}
    for index, sec in enumerate(sections):
        if sec[1] in _LINKED_TYPES and sec[6] >= shnum:
            raise _NotPlain
        end = names.find(b"\0", sec[0])
        if end < 0:
            raise _NotPlain
        by_name[names[sec[0]:end]] = index  # the last of a name, as pyelftools
    dynsym, dynamic = by_name.get(b".dynsym"), by_name.get(b".dynamic")
    if dynsym is None or dynamic is None or sections[dynamic][1] != _SHT_DYNAMIC:
        raise _NotPlain  # the dynamic segment, or a file pyelftools reads its own way

    needed: list[str] = []
    soname: str | None = None
    dynamic_sec = sections[dynamic]
    strings = contents(sections[dynamic_sec[6]]) if dynamic_sec[6] < shnum else b""
    for tag, value in struct.iter_unpack(dyn, _whole(contents(dynamic_sec), dyn)):
        if tag == _DT_NULL:
            break
        if tag in (_DT_NEEDED, _DT_SONAME):
            end = strings.find(b"\0", value)
            if value >= len(strings) or end < 0:
                raise _NotPlain
            text = strings[value:end].decode("utf-8", "replace")
            if tag == _DT_NEEDED:
                needed.append(text)
            else:
                soname = text

    symtab = sections[dynsym]
    symbols = _symbol_entries(contents(symtab), contents(sections[symtab[6]]),
                              head[4] == 2, endian)
    comment = by_name.get(b".comment")
    rustc = comment is not None and b"rustc version" in contents(sections[comment])
    return needed, soname, symbols, rustc


def _whole(data: bytes, fmt: str) -> bytes:
    """``data`` cut to whole entries of ``fmt``."""
    size = struct.calcsize(fmt)
    return data[:len(data) - len(data) % size]


def _read_elf_pyelftools(stream: Any) -> tuple[list[str], str | None,
                                               Iterator[tuple[str, bool, int]], bool]:
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
    symbols = list(_dynamic_symbols(elf))
    comment = elf.get_section_by_name(".comment")
    rustc = comment is not None and b"rustc version" in comment.data()
    return needed, soname, iter(symbols), rustc


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
    yield from _symbol_entries(section.data(), strtab, elf.elfclass == 64,
                               "<" if elf.little_endian else ">")


def _symbol_entries(data: bytes, strtab: bytes, is64: bool, endian: str
                    ) -> Iterator[tuple[str, bool, int]]:
    """``(name, defined, binding)`` of the global and weak entries of a .dynsym's ``data``
    (the only bindings ``_report`` looks at: local ones are skipped before their name is
    read)."""
    if is64:
        # st_name, st_info, st_other, st_shndx, st_value, st_size
        fmt, info_i, shndx_i = endian + "IBBHQQ", 1, 3
    else:
        # st_name, st_value, st_size, st_info, st_other, st_shndx
        fmt, info_i, shndx_i = endian + "IIIBBH", 3, 5
    size = len(strtab)
    for entry in struct.iter_unpack(fmt, _whole(data, fmt)):
        offset, binding = entry[0], entry[info_i] >> 4
        if offset == 0 or offset >= size or binding not in (_STB_GLOBAL, _STB_WEAK):
            continue
        end = strtab.find(b"\0", offset)
        name = strtab[offset:end if end >= 0 else None].decode("ascii", "replace")
        yield name, entry[shndx_i] != _SHN_UNDEF, binding


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


def _same_files(paths: Sequence[str]) -> list[list[str]]:
    """``paths`` grouped by the real file: symlinks and hard links (one inode) and byte-equal
    copies (a wheel cannot hold symlinks, so ``libkrb5.so.3`` and ``libkrb5.so.3.3`` are two
    copies of one library). Only files of equal size are hashed."""
    by_inode: dict[object, list[str]] = {}
    for path in paths:
        try:
            st = os.stat(path)  # follows symlinks: a link and its target share the key
            key: object = (st.st_dev, st.st_ino, st.st_size)
        except OSError:
            key = ("unreadable", path)
        by_inode.setdefault(key, []).append(path)
    by_size: dict[object, list[list[str]]] = {}
    for key, group in by_inode.items():
        size = key[2] if isinstance(key, tuple) and len(key) == 3 else key
        by_size.setdefault(size, []).append(group)
    out: list[list[str]] = []
    for groups in by_size.values():
        if len(groups) == 1:
            out.append(groups[0])
            continue
        by_digest: dict[object, list[str]] = {}
        for group in groups:
            by_digest.setdefault(_digest(group[0]), []).extend(group)
        out.extend(by_digest.values())
    return out


def _digest(path: str) -> object:
    try:
        with open(path, "rb") as stream:
            return hashlib.file_digest(stream, "sha256").digest()  # type: ignore[attr-defined]
    except AttributeError:  # Python < 3.11
        with open(path, "rb") as stream:
            return hashlib.sha256(stream.read()).digest()
    except OSError:
        return ("unreadable", path)


def _representative(group: list[str], soname: str | None) -> str:
    """The name to show for a file with copies: the one the loader asks for (its soname),
    else the shortest."""
    for path in group:
        if soname and os.path.basename(path) == soname:
            return path
    return min(group, key=lambda p: (len(os.path.basename(p)), p))


def scan_distribution(files: Iterable[str | os.PathLike[str]]) -> list[NativeFileReport]:
    """Reports for a distribution's shared objects that have something to say.

    ``files`` are the distribution's installed files (absolute paths, e.g. from
    ``importlib.metadata`` in the target interpreter); non-shared-object names are ignored.
    Each real file is read once (``_same_files``); its other names are in ``copies``.

    Each extension module gets the bundled libraries it loads: client libraries (and files
    that could not be read) in ``via``, helper libraries with network imports in ``helpers``.
    A bundled client library that no extension links (loaded with ctypes/cffi) is reported on
    its own; so are helper libraries no extension links, last, so that ``findings_for`` can
    name them once as secondary. Files with only secondary symbols (poll, sleep, wait) are
    left out.
    """
    paths = [os.fspath(p) for p in files]
    paths = [p for p in paths if _looks_like_shared_object(p)]
    reports: list[NativeFileReport] = []
    for group in _same_files(sorted(paths)):
        report = scan_file(group[0])
        if report is None:
            continue
        if len(group) > 1:
            shown = _representative(group, report.soname)
            report = _with(report, path=shown, copies=tuple(p for p in group if p != shown))
        reports.append(report)

    # Resolve DT_NEEDED inside the distribution by file name (every copy's) and by DT_SONAME,
    # which is how auditwheel's $ORIGIN rpath makes the loader find psycopg2_binary.libs/….
    bundled: dict[str, NativeFileReport] = {}
    for report in reports:
        if not report.is_extension:
            for path in (report.path, *report.copies):
                bundled.setdefault(os.path.basename(path), report)
            if report.soname:
                bundled.setdefault(report.soname, report)

    reached: set[str] = set()
    out: list[NativeFileReport] = []
    for report in reports:
        if not report.is_extension:
            continue
        via, helpers = [], []
        for lib, parent in _bundled_closure(report, bundled):
            reached.add(lib.path)
            if lib.error or lib.is_client_library:
                via.append(_with(lib, needed_by=parent))
            elif lib.primary_symbols or lib.libraries:
                helpers.append(_with(lib, needed_by=parent))
        full = _with(report, via=tuple(via), helpers=tuple(helpers))
        if full.has_findings or full.helpers:
            out.append(full)
    loose = [r for r in reports
             if not r.is_extension and r.path not in reached and r.has_findings]
    out.extend(r for r in loose if not r.is_helper)
    out.extend(r for r in loose if r.is_helper)
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
    "The extension does socket/DNS I/O in C, where monkey-patching cannot reach: while it "
    "waits, the hub and every greenlet may stand still. A probe measures whether it blocks; "
    "if it does, use the library's gevent mode, gevent's threadpool "
    "(gevent.get_hub().threadpool.apply(...)), or a pure-Python client."
)
_HINT_LIBRARY = (
    "{libs} does its own network I/O in C, which monkey-patching cannot make cooperative. "
    "A probe measures whether it blocks. Use the library's pure-Python mode or gevent hook "
    "if it has one (see below), or run the calls on gevent's threadpool."
)
_HINT_RUST = (
    "Every Rust extension imports these through Rust's standard library (std::net), used or "
    "not; the file shows no event loop and no client library. A probe would tell."
)
_HINT_HELPER = (
    "Bundled helper libraries (authentication, X11, …) talk to a KDC, a security key or a "
    "display server, not to your services; the distribution's own code shows no network I/O."
)


def _display(path: str) -> str:
    """A short name for summaries: the part after site-packages, else ``folder/file``."""
    norm = path.replace(os.sep, "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            return norm.split(marker, 1)[1]
    return "/".join(norm.rsplit("/", 2)[-2:])


def _family(path: str) -> str:
    """A helper library's family ("Kerberos", "SASL", …), else its stem without the
    auditwheel hash (``libxcb-9065bb12.so.1.1.0`` → ``libxcb``)."""
    name = os.path.basename(path)
    parent = os.path.basename(os.path.dirname(path))
    for pattern, family in _HELPER_FAMILIES:
        if pattern.search(name) or (family == "SASL" and pattern.search(parent)):
            return family
    stem = name.split(".so", 1)[0]
    return re.sub(r"-[0-9a-f]{8}$", "", stem)


def _evidence(report: NativeFileReport, io: ev.NativeIO,
              bundles: Sequence[ev.BundledHelper] = ()) -> ev.NativeCode:
    chain: list[str] = []
    client = next((v for v in report.via if v.is_client_library), None)
    if client is not None:
        by_path = {v.path: v for v in report.via}
        step: NativeFileReport | None = client
        while step is not None and step.path != report.path:
            chain.insert(0, os.path.basename(step.path))
            step = by_path.get(step.needed_by or "")
        chain.insert(0, os.path.basename(report.path))
    return ev.NativeCode(
        file=report.path,
        extension=report.is_extension,
        symbols=report.all_symbols,
        libraries=tuple(ev.LinkedLibrary(lib.soname, lib.name, lib.embedded)
                        for lib in report.all_libraries),
        via=tuple(v.to_json() for v in report.via),
        io=io,
        chain=tuple(chain),
        copies=report.copies,
        bundles=tuple(bundles),
    )


def _short_list(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … (+{len(names) - limit})" if len(names) > limit else "")


def _finding(report: NativeFileReport) -> tuple[Finding, NativeFileReport] | None:
    """The finding for one report (``findings_for``), without the ``bundles`` line."""
    libraries = report.all_libraries
    where = _display(report.path)
    if libraries:
        # Name the libraries the file links itself (libpq), not what those link in turn
        # (libpq → libldap): the rest is in the evidence.
        headline = report.libraries or libraries
        names = [lib.name for lib in headline]
        embedded = [lib for lib in headline if lib.embedded]
        if embedded and len(embedded) == len(headline):
            summary = f"{where} does its network I/O in C: {_short_list(names, 3)} compiled in"
        else:
            bundled_names = {os.path.basename(v.path) for v in report.via} | {
                v.soname for v in report.via if v.soname}
            shipped = [lib.soname for lib in headline if lib.soname in bundled_names]
            chain = f" (bundled: {', '.join(shipped)})" if shipped else ""
            summary = f"{where} links a network client library: {_short_list(names, 3)}{chain}"
        return Finding(
            code=CODE_CLIENT_LIBRARY, severity=Severity.SUSPECT, check=CHECK, summary=summary,
            evidence=_evidence(report, ev.NativeIO.CLIENT_LIBRARY),
            hint=_HINT_LIBRARY.format(libs=_short_list(names, 3)),
        ), report
    if report.calls_blocking:
        primary = [s for c, group in report.all_symbols.items()
                   if c in PRIMARY_CATEGORIES for s in group]
        if report.quiet_runtime:
            return Finding(
                code=CODE_BLOCKING_CALLS, severity=Severity.INFO, check=CHECK,
                summary=(f"{where}: network imports of Rust's standard library "
                         f"({_short_list(primary, 3)}); no client library, no event loop"),
                evidence=_evidence(report, ev.NativeIO.RUST_STD), hint=_HINT_RUST,
            ), report
        if set(primary) <= NAME_INFO_ONLY:
            # psutil's _psutil_linux: getnameinfo turns an interface address into text
            # (NI_NUMERICHOST, no lookup). Without a socket call of its own the file does no
            # network I/O it could block on; a reverse lookup is possible, so it stays visible.
            return Finding(
                code=CODE_BLOCKING_CALLS, severity=Severity.INFO, check=CHECK,
                summary=(f"{where}: imports only {_short_list(primary)} (address to text; no "
                         "socket calls of its own)"),
                evidence=_evidence(report, ev.NativeIO.OWN_CALLS),
                hint=("Nothing to do: getnameinfo turns an address into text; it waits on DNS "
                      "only for a reverse lookup, which a probe of that call would show."),
            ), report
        return Finding(
            code=CODE_BLOCKING_CALLS, severity=Severity.SUSPECT, check=CHECK,
            summary=(f"{where}: native code calls blocking libc functions "
                     f"({_short_list(primary)})"),
            evidence=_evidence(report, ev.NativeIO.OWN_CALLS), hint=_HINT_CALLS,
        ), report
    return None


def _helper_entries(reports: Iterable[NativeFileReport]) -> list[ev.BundledHelper]:
    seen: dict[str, ev.BundledHelper] = {}
    for report in reports:
        helpers = report.helpers if not report.is_helper else (report,)
        for helper in helpers:
            if not (helper.primary_symbols or helper.libraries):
                continue  # an unreadable file is patchcheck's problem (problems_for), not this
            seen.setdefault(helper.path, ev.BundledHelper(
                file=helper.path, family=_family(helper.path), copies=len(helper.copies)))
    return sorted(seen.values(), key=lambda b: (b.family, b.file))


def findings_for(reports: Iterable[NativeFileReport]) -> list[Finding]:
    """Native findings of one distribution (``scan_distribution``'s reports).

    One finding per extension (or unlinked bundled client library) that does network I/O:
    PC141 (SUSPECT: probably blocks the hub) if it links or embeds a client library, else
    PC140 — SUSPECT for the extension's own socket/DNS/TLS imports (``NativeIO.OWN_CALLS``),
    INFO where those are Rust's std::net only. Sleep, poll and wait imports alone give no
    finding (``PRIMARY_CATEGORIES``).
    Bundled helper libraries are never findings of their own: the leading finding lists them
    once (``NativeCode.bundles``); where they are the only network code, one INFO finding
    says so. Compute-only files give no finding; unreadable files give none either
    (``problems_for`` reports them as patchcheck's own problems).
    """
    reports = list(reports)
    made = [m for m in (_finding(r) for r in reports if not r.is_helper) if m is not None]
    bundles = _helper_entries(reports)
    findings = [f for f, _ in made]
    if bundles:
        if findings:
            lead = max(range(len(findings)), key=lambda i: (int(findings[i].severity), -i))
            f, report = made[lead]
            assert isinstance(f.evidence, ev.NativeCode)
            findings[lead] = replace(f, evidence=replace(f.evidence, bundles=tuple(bundles)))
        else:
            first = next((r for r in reports if r.helpers), None)
            families = list(dict.fromkeys(b.family for b in bundles))
            if first is not None:
                where = _display(first.path)
                summary = (f"{where}: network calls only in bundled helper libraries "
                           f"({_short_list(families, 4)}), not in its own code")
                evidence = _evidence(first, ev.NativeIO.BUNDLED_HELPER, bundles)
            else:
                summary = (f"bundles helper libraries with network calls "
                           f"({_short_list(families, 4)}); no extension loads them")
                helper = next(r for r in reports if r.is_helper and r.path == bundles[0].file)
                evidence = _evidence(helper, ev.NativeIO.BUNDLED_HELPER, bundles)
            findings.append(Finding(code=CODE_BLOCKING_CALLS, severity=Severity.INFO,
                                    check=CHECK, summary=summary, evidence=evidence,
                                    hint=_HINT_HELPER))
    return findings


def problems_for(reports: Iterable[NativeFileReport]) -> list[str]:
    """patchcheck's own failures to read a file (not library verdicts), one line each."""
    out = []
    for report in reports:
        for r in (report, *report.via):
            if r.error is not None:
                out.append(f"native check: {r.path}: {r.error}")
    return out
