"""The ``ldap`` service: our own OpenLDAP ``slapd`` with one entry, on a 127.0.0.1 port.

A ``slapd.conf`` in a temporary directory (core schema, an mdb database for
``dc=patchcheck,dc=test`` with a random root password), the base entry loaded with
``slapadd`` into that directory, then ``slapd -f <conf> -h ldap://127.0.0.1:PORT/ -d 0`` in the
foreground. The machine's own slapd (``/etc/ldap/slapd.d``, Debian's postinst instance) is never
read or touched. LDAP cannot be asked to answer late: probes use ``proxy:ldap``.

Endpoint extra: ``user`` (the bind DN), ``password``, ``base_dn``.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence

from patchcheck.services.daemons import daemon_spec
from patchcheck.services.real import (
    RealService,
    _free_port,
    _guard,
    _Process,
    _start_with_retries,
    _tcp_problem,
    _Unavailable,
    find_binary,
)
from patchcheck.spec import Endpoint, ServiceSpec

__all__ = ["BASE_DN", "start_slapd"]

BASE_DN = "dc=patchcheck,dc=test"
_SCHEMA_DIRS = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
_MODULE_DIRS = ("/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap")
INSTALL_HINT = "apt-get install slapd ldap-utils (patchcheck starts its own slapd)"


def _first_dir(candidates: Sequence[str], member: str) -> str | None:
    for path in candidates:
        if os.path.exists(os.path.join(path, member)):
            return path
    return None


def start_slapd(env: Mapping[str, str], timeout: float) -> RealService:
    slapd = find_binary(["slapd"], env, ["/usr/sbin/slapd", "/usr/libexec/slapd"])
    slapadd = find_binary(["slapadd"], env, ["/usr/sbin/slapadd"])
    schema = _first_dir(_SCHEMA_DIRS, "core.schema")
    if slapd is None or slapadd is None or schema is None:
        raise _Unavailable("no OpenLDAP server (slapd, slapadd and core.schema) found")
    modules = _first_dir(_MODULE_DIRS, "back_mdb.la")

    def attempt() -> RealService:
        process = _Process("slapd", ["openldap", "ldap"])
        port = _free_port()
        password = secrets.token_hex(8)
        conf = os.path.join(process.tmp, "slapd.conf")
        data = os.path.join(process.tmp, "data")

        def body() -> RealService:
            os.mkdir(data)
            lines = [f"include {schema}/core.schema",
                     f"pidfile {process.tmp}/slapd.pid",
                     f"argsfile {process.tmp}/slapd.args"]
            if modules:  # Debian builds back_mdb as a module; others link it in
                lines += [f"modulepath {modules}", "moduleload back_mdb"]
            lines += ["database mdb", "maxsize 16777216", f'suffix "{BASE_DN}"',
                      f'rootdn "cn=admin,{BASE_DN}"', f"rootpw {password}",
                      f"directory {data}"]
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            ldif = os.path.join(process.tmp, "base.ldif")
            with open(ldif, "w") as f:
                f.write(f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\n"
                        "o: patchcheck\ndc: patchcheck\n")
            if process.user:
                for path in (data, conf, ldif):
                    os.chown(path, process.user[0], process.user[1])
            process.run([slapadd, "-f", conf, "-l", ldif], env, timeout)
            # -d 0: stay in the foreground (no debug output), so stop() ends it.
            process.launch([slapd, "-f", conf, "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                           env)
            process.wait_ready(lambda: _tcp_problem("127.0.0.1", port, 0.5) is None, timeout)
            endpoint = Endpoint(name="ldap", host="127.0.0.1", port=port,
                                url=f"ldap://127.0.0.1:{port}/",
                                extra={"user": f"cn=admin,{BASE_DN}", "password": password,
                                       "base_dn": BASE_DN, "origin": "started"})
            return RealService(endpoint, "started", [process.stop])

        return _guard(process, body)

    return _start_with_retries(attempt)


def service_specs() -> Sequence[ServiceSpec]:
    """This daemon as a built-in service (see ``patchcheck.services.builtin_services``)."""
    return [daemon_spec("ldap", start_slapd, "our own OpenLDAP slapd with one entry "
                        "(extra: user = bind DN, password, base_dn)", INSTALL_HINT)]
