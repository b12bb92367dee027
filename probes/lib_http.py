"""HTTP clients over Python sockets: requests, urllib3, httpx (sync), botocore.

Each probe sends one request to the slow HTTP fixture (``slow_http``), which answers after
``wait``; the ``*_tls`` variants do the same over TLS (``slow_tls``, verified against the
fixture's throw-away CA in ``cafile``). All four libraries do their I/O through the ``socket``
and ``ssl`` modules (urllib3 under requests and botocore, httpcore under httpx), so after
``patch_all()`` they are expected to cooperate.

The TLS variants of requests, urllib3 and botocore are also measured with the library imported
*before* ``patch_all()`` (``import_order="both"``): an app that imports them first has ssl
imported before gevent patches it, and the HTTPS call then raises ``RecursionError``
(gevent#1016). ``import botocore`` alone loads no ssl, its first use does: the imported-first
run of its probe also imports ``botocore.session`` before patching (``before_imports``), as an
app's ``import botocore.session`` would.

Proxies from the environment are always disabled: only loopback is ever contacted.
"""
from __future__ import annotations

from patchcheck_probe import probe

_TIMEOUT = 30.0


def _url(peer) -> str:
    scheme = "https" if peer.get("cafile") else "http"
    return peer.get("url") or f"{scheme}://{peer.host}:{peer.port}/"


# --- requests -------------------------------------------------------------------------------

def _requests_call(ctx, service):
    import requests

    peer = ctx.service(service)
    session = requests.Session()
    session.trust_env = False  # no proxies, netrc or CA bundles from the environment
    verify = peer.get("cafile") or True

    def call():
        try:
            response = session.get(_url(peer), timeout=_TIMEOUT, verify=verify)
            response.raise_for_status()
            response.json()
        finally:
            session.close()

    return call


@probe(distributions=["requests"], services=["slow_http"], wait=0.3)
def requests_get(ctx):
    """requests.Session().get(url); the server answers after ``wait``."""
    return _requests_call(ctx, "slow_http")


@probe(distributions=["requests"], services=["slow_tls"], wait=0.3, import_order="both")
def requests_get_tls(ctx):
    """requests.Session().get(https url, verify=cafile); the server answers after ``wait``."""
    return _requests_call(ctx, "slow_tls")


# --- urllib3 --------------------------------------------------------------------------------

def _urllib3_call(ctx, service):
    import urllib3

    peer = ctx.service(service)
    kwargs = {"timeout": urllib3.Timeout(connect=_TIMEOUT, read=_TIMEOUT), "retries": False}
    if peer.get("cafile"):
        kwargs.update(cert_reqs="CERT_REQUIRED", ca_certs=peer.cafile)
    pool = urllib3.PoolManager(**kwargs)

    def call():
        try:
            response = pool.request("GET", _url(peer))
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
        finally:
            pool.clear()

    return call


@probe(distributions=["urllib3"], services=["slow_http"], wait=0.3)
def urllib3_get(ctx):
    """urllib3.PoolManager().request("GET", url); the server answers after ``wait``."""
    return _urllib3_call(ctx, "slow_http")


@probe(distributions=["urllib3"], services=["slow_tls"], wait=0.3, import_order="both")
def urllib3_get_tls(ctx):
    """urllib3 GET over TLS (ca_certs=cafile); the server answers after ``wait``."""
    return _urllib3_call(ctx, "slow_tls")


# --- httpx ----------------------------------------------------------------------------------

def _remedy_no_old_trio():
    """What httpx sees without an old trio: ``import trio`` fails with ImportError.

    httpcore imports trio when it is installed and catches only ImportError and
    NotImplementedError. trio < 0.26 builds its epoll I/O manager at import time on Linux and
    raises AttributeError (``select.epoll`` is removed by ``patch_all()``; trio #2848), which
    breaks ``import httpx``. trio >= 0.26 creates the epoll object lazily and imports fine;
    without trio, httpcore simply does without it. Both fixes amount to this.
    """
    import sys

    sys.modules["trio"] = None  # type: ignore[assignment]


_HTTPX_REMEDIES = {"pip install -U 'trio>=0.26' (or uninstall trio)": _remedy_no_old_trio}


def _httpx_call(ctx, service):
    import httpx

    peer = ctx.service(service)
    verify = True
    if peer.get("cafile"):
        import ssl

        verify = ssl.create_default_context(cafile=peer.cafile)
    client = httpx.Client(timeout=_TIMEOUT, verify=verify, trust_env=False)

    def call():
        try:
            response = client.get(_url(peer))
            response.raise_for_status()
            response.json()
        finally:
            client.close()

    return call


@probe(distributions=["httpx"], services=["slow_http"], wait=0.3, remedies=_HTTPX_REMEDIES)
def httpx_get(ctx):
    """httpx.Client().get(url) (the sync client); the server answers after ``wait``."""
    return _httpx_call(ctx, "slow_http")


@probe(distributions=["httpx"], services=["slow_tls"], wait=0.3, remedies=_HTTPX_REMEDIES)
def httpx_get_tls(ctx):
    """httpx.Client(verify=ssl context).get(https url); the server answers after ``wait``."""
    return _httpx_call(ctx, "slow_tls")


# --- botocore -------------------------------------------------------------------------------

def _botocore_call(ctx, service):
    import botocore.session
    from botocore.config import Config

    peer = ctx.service(service)
    session = botocore.session.Session()
    # A JSON-protocol API (DynamoDB ListTables): the fixture's JSON body parses as a valid
    # (empty) answer. Explicit fake credentials and endpoint: botocore never looks for
    # credentials (no instance-metadata request) and never leaves loopback.
    client = session.create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=_url(peer).rstrip("/"),
        aws_access_key_id="patchcheck", aws_secret_access_key="patchcheck",
        verify=peer.get("cafile") or True,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=_TIMEOUT,
                      read_timeout=_TIMEOUT, proxies={}))
    # Warm botocore's lazy work (endpoint rules, request serialisation, signing) without a
    # request, as the boto3 probe does: the measured call is then the wait, not ~100 ms of
    # first-use CPU on the hub, which a busy machine stretches past the stall bound.
    client.generate_presigned_url("list_tables")

    def call():
        try:
            client.list_tables()
        finally:
            client.close()

    return call


@probe(distributions=["botocore"], services=["slow_http"], wait=0.3)
def botocore_call(ctx):
    """A botocore API call (dynamodb ListTables) answered after ``wait``."""
    return _botocore_call(ctx, "slow_http")


@probe(distributions=["botocore"], services=["slow_tls"], wait=0.3, import_order="both",
       before_imports=["botocore.session"])
def botocore_call_tls(ctx):
    """The same botocore API call over TLS (verify=cafile)."""
    return _botocore_call(ctx, "slow_tls")
