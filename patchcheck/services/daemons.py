"""What the servers patchcheck starts for itself share beyond :mod:`.real`: a spec per server.

slapd (:mod:`.ldap`), sshd (:mod:`.ssh`) and ZooKeeper (:mod:`.zookeeper`) are always our own
throwaway servers: each lives in a temporary directory with its own configuration file, on a
free 127.0.0.1 port, and never reads or changes the machine's configuration (``/etc/ldap``'s
system instance, ``/etc/ssh/sshd_config``, ``/etc/zookeeper``). A configured URL
(``[tool.patchcheck] services = {ldap = "ldap://127.0.0.1:389/"}``) still replaces the
service, through the registry. They ignore the delay: probes make them wait (a remote
``sleep``) or put ``proxy:<name>`` in front of them.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Callable

from patchcheck.services.real import RealService, _Unavailable
from patchcheck.spec import ServiceSpec, ServiceUnavailable

__all__ = ["daemon_spec"]

Starter = Callable[[Mapping[str, str], float], RealService]


def daemon_spec(name: str, starter: Starter, description: str, install_hint: str,
                start_timeout: float = 60.0) -> ServiceSpec:
    """A :class:`ServiceSpec` that starts our own ``name`` server, or says why it cannot."""

    def start(delay: float) -> RealService | ServiceUnavailable:
        try:
            return starter(os.environ, start_timeout)
        except _Unavailable as exc:
            return ServiceUnavailable(name, str(exc), install_hint=install_hint)

    return ServiceSpec(name=name, start=start, description=description, uses_delay=False)
