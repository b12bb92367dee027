"""Standard library: http.client and urllib.request against a slow HTTP server."""
from __future__ import annotations

from patchcheck_probe import probe


@probe("stdlib.http.client", distributions=["stdlib"], services=["slow_http"], wait=0.3)
def stdlib_http_client(ctx):
    """http.client.HTTPConnection GET /; the server answers after ``wait``."""
    import http.client

    peer = ctx.service("slow_http")

    def call():
        conn = http.client.HTTPConnection(peer.host, peer.port, timeout=30)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
        finally:
            conn.close()

    return call


@probe("stdlib.urllib.request", distributions=["stdlib"], services=["slow_http"], wait=0.3)
def stdlib_urllib_request(ctx):
    """urllib.request.urlopen(url); the server answers after ``wait``."""
    import urllib.request

    peer = ctx.service("slow_http")
    url = peer.url or f"http://{peer.host}:{peer.port}/"
    # Never a proxy from the environment: only loopback is ever contacted.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call():
        with opener.open(url, timeout=30) as response:
            response.read()

    return call
