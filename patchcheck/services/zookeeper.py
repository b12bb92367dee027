"""The ``zookeeper`` service: our own standalone ZooKeeper on a 127.0.0.1 port.

A ``zoo.cfg`` and ``dataDir`` in a temporary directory (standalone, the admin server off, only
the ``ruok`` four-letter word allowed, which readiness uses), run as
``java -cp zookeeper.jar org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg``; the jar's
manifest names its dependencies (Debian's ``zookeeper`` package). ``/etc/zookeeper`` and the
system service (``zookeeperd``) are never used. ZooKeeper answers at once: probes use
``proxy:zookeeper``.

Endpoint extra: ``hosts`` (``127.0.0.1:PORT``, kazoo's ``hosts=``).
"""
from __future__ import annotations

import os
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

__all__ = ["start_zookeeper"]

INSTALL_HINT = "apt-get install zookeeper (patchcheck starts its own server; set ZOOKEEPER_JAR " \
               "to use another zookeeper.jar)"
_JARS = ("/usr/share/java/zookeeper.jar", "/usr/share/zookeeper/zookeeper.jar")


def start_zookeeper(env: Mapping[str, str], timeout: float) -> RealService:
    java = find_binary(["java"], env, ["/usr/bin/java", "/usr/lib/jvm/*/bin/java"])
    jars = [env["ZOOKEEPER_JAR"]] if env.get("ZOOKEEPER_JAR") else list(_JARS)
    jar = next((j for j in jars if os.path.isfile(j)), None)
    if java is None or jar is None:
        raise _Unavailable("no ZooKeeper server (java and zookeeper.jar) found")

    def attempt() -> RealService:
        process = _Process("zookeeper", ["zookeeper"])
        port = _free_port()

        def body() -> RealService:
            data = os.path.join(process.tmp, "data")
            os.mkdir(data)
            conf = os.path.join(process.tmp, "zoo.cfg")
            with open(conf, "w") as f:
                f.write("\n".join([
                    "tickTime=2000", f"dataDir={data}", f"clientPort={port}",
                    "clientPortAddress=127.0.0.1", "admin.enableServer=false",
                    "4lw.commands.whitelist=ruok", "maxClientCnxns=200",
                    "forceSync=no",  # nothing here is worth an fsync
                ]) + "\n")
            if process.user:
                os.chown(data, process.user[0], process.user[1])
            process.launch([java, "-Xmx256m", f"-Dzookeeper.log.dir={process.tmp}",
                            "-cp", jar, "org.apache.zookeeper.server.ZooKeeperServerMain",
                            conf], env)
            process.wait_ready(lambda: _exchange(port, b"ruok", b"imok"), timeout)
            hosts = f"127.0.0.1:{port}"
            endpoint = Endpoint(name="zookeeper", host="127.0.0.1", port=port,
                                url=f"zk://{hosts}/", extra={"hosts": hosts, "origin": "started"})
            return RealService(endpoint, "started", [process.stop])

        return _guard(process, body)

    return _start_with_retries(attempt)


def service_specs() -> Sequence[ServiceSpec]:
    """This daemon as a built-in service (see ``patchcheck.services.builtin_services``)."""
    return [daemon_spec("zookeeper", start_zookeeper, "our own standalone ZooKeeper "
                        "(extra: hosts)", INSTALL_HINT)]
