"""paramiko, against patchcheck's own sshd (the ``ssh`` service).

After a public-key login (the service's throwaway key, its host key checked against the
service's ``known_hosts``), the measured call runs ``sleep <wait>`` on the server with
``exec_command`` and waits for its exit status: the server answers ``wait`` later.

paramiko is pure Python over the ``socket`` module, and its transport runs in a
``threading.Thread``, which is a greenlet once patched: expected to cooperate.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["paramiko"], services=["ssh"], wait=0.3)
def paramiko_exec_sleep(ctx):
    """paramiko SSHClient.exec_command("sleep <wait>") and recv_exit_status()."""
    import paramiko

    peer = ctx.service("ssh")
    client = paramiko.SSHClient()
    if peer.get("known_hosts"):
        client.load_host_keys(peer.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(peer.host, port=int(peer.port), username=peer.user,
                   key_filename=peer.get("key_filename"), password=peer.get("password"),
                   look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10,
                   auth_timeout=10)

    def call():
        try:
            _stdin, stdout, _stderr = client.exec_command(f"sleep {ctx.wait}",
                                                          timeout=30)
            status = stdout.channel.recv_exit_status()
            if status != 0:
                raise RuntimeError(f"remote sleep exited with {status}")
        finally:
            client.close()

    return call
