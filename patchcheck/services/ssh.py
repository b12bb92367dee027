"""The ``ssh`` service: our own OpenSSH ``sshd`` on a 127.0.0.1 port, with throwaway keys.

Everything lives in a temporary directory: an ``sshd_config`` written for this server only
(public-key login only, no PAM, no forwarding), a fresh ed25519 host key, a fresh client key and
the ``authorized_keys`` file that lists it (``AuthorizedKeysFile`` points there, so no user's
``~/.ssh`` is read or changed). The machine's ``/etc/ssh/sshd_config`` and host keys are never
read: ``sshd -f`` names our file, and ``HostKey`` our key.

sshd logs in the user patchcheck runs as (root in CI). As root, sshd insists on its compiled-in
privilege-separation directory (``/run/sshd`` on Debian), which the system service's unit
creates at boot; where no system sshd has run it is created, empty and root-owned, as that unit
would.

Endpoint extra: ``user``, ``key_filename`` (the private client key), ``known_hosts`` (a file
holding our host key, for strict host-key checking).
"""
from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Mapping, Sequence

from patchcheck.services.daemons import daemon_spec
from patchcheck.services.real import (
    RealService,
    _exchange,
    _free_port,
    _guard,
    _Process,
    _start_with_retries,
    _Unavailable,
    find_binary,
)
from patchcheck.spec import Endpoint, ServiceSpec

__all__ = ["start_sshd"]

INSTALL_HINT = "apt-get install openssh-server (patchcheck starts its own sshd)"
_PRIVSEP_DIRS = ("/run/sshd", "/var/run/sshd", "/var/empty")


def _keygen(keygen: str, path: str, env: Mapping[str, str]) -> None:
    try:
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "patchcheck", "-f", path],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=30,
                       env={"PATH": env.get("PATH", os.defpath)})
    except (OSError, subprocess.SubprocessError) as exc:
        raise _Unavailable(f"ssh-keygen failed: {exc}") from None


def _ensure_privsep_dir() -> None:
    if os.geteuid() != 0 or any(os.path.isdir(d) for d in _PRIVSEP_DIRS):
        return
    os.makedirs(_PRIVSEP_DIRS[0], mode=0o755, exist_ok=True)


def start_sshd(env: Mapping[str, str], timeout: float) -> RealService:
    sshd = find_binary(["sshd"], env, ["/usr/sbin/sshd", "/usr/local/sbin/sshd"])
    keygen = find_binary(["ssh-keygen"], env, ["/usr/bin/ssh-keygen"])
    if sshd is None or keygen is None:
        raise _Unavailable("no OpenSSH server (sshd, ssh-keygen) found")
    sshd = os.path.realpath(sshd)  # sshd re-executes itself and needs an absolute path
    user = pwd.getpwuid(os.geteuid()).pw_name

    def attempt() -> RealService:
        process = _Process("sshd")
        process.user = None  # sshd logs in the user it runs as (it drops privileges itself)
        port = _free_port()

        def body() -> RealService:
            host_key = os.path.join(process.tmp, "host_key")
            client_key = os.path.join(process.tmp, "client_key")
            _keygen(keygen, host_key, env)
            _keygen(keygen, client_key, env)
            authorized = os.path.join(process.tmp, "authorized_keys")
            with open(client_key + ".pub") as src, open(authorized, "w") as dst:
                dst.write(src.read())
            with open(host_key + ".pub") as f:
                key_type, key_data = f.read().split()[:2]
            known_hosts = os.path.join(process.tmp, "known_hosts")
            with open(known_hosts, "w") as f:
                f.write(f"[127.0.0.1]:{port} {key_type} {key_data}\n")
            conf = os.path.join(process.tmp, "sshd_config")
            with open(conf, "w") as f:
                f.write("\n".join([
                    f"ListenAddress 127.0.0.1:{port}",
                    f"HostKey {host_key}",
                    f"PidFile {process.tmp}/sshd.pid",
                    f"AuthorizedKeysFile {authorized}",
                    f"AllowUsers {user}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    # The key files sit under /tmp (world-writable): strict modes would refuse.
                    "StrictModes no",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "PrintMotd no",
                    "MaxStartups 100",
                    "MaxSessions 100",
                ]) + "\n")
            _ensure_privsep_dir()
            process.launch([sshd, "-D", "-e", "-f", conf], env)
            process.wait_ready(lambda: _exchange(port, b"", b"SSH-"), timeout)
            endpoint = Endpoint(name="ssh", host="127.0.0.1", port=port,
                                url=f"ssh://{user}@127.0.0.1:{port}",
                                extra={"user": user, "key_filename": client_key,
                                       "known_hosts": known_hosts, "origin": "started"})
            return RealService(endpoint, "started", [process.stop])

        return _guard(process, body)

    return _start_with_retries(attempt)


def service_specs() -> Sequence[ServiceSpec]:
    """This daemon as a built-in service (see ``patchcheck.services.builtin_services``)."""
    return [daemon_spec("ssh", start_sshd, "our own OpenSSH sshd with a throwaway key pair "
                        "(extra: user, key_filename, known_hosts)", INSTALL_HINT)]
