"""pycurl: a transfer from the slow HTTP fixture.

libcurl connects, waits and reads in C with its own ``poll()``, out of reach of gevent's
patching, so ``Curl.perform()`` blocks the hub (the threadpool remedy moves it off the hub;
the documented fix is an HTTP client over Python sockets: requests, urllib3, httpx).
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["pycurl"], services=["slow_http"], wait=0.3)
def pycurl_perform(ctx):
    """pycurl.Curl().perform() of GET url; the server answers after ``wait``."""
    import io

    import pycurl

    peer = ctx.service("slow_http")
    url = peer.get("url") or f"http://{peer.host}:{peer.port}/"
    body = io.BytesIO()
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, url)
    curl.setopt(pycurl.NOPROXY, "*")  # only loopback, never a proxy from the environment
    curl.setopt(pycurl.CONNECTTIMEOUT, 10)
    curl.setopt(pycurl.TIMEOUT, 30)
    curl.setopt(pycurl.NOSIGNAL, 1)
    curl.setopt(pycurl.WRITEDATA, body)

    def call():
        try:
            curl.perform()
            status = curl.getinfo(pycurl.RESPONSE_CODE)
            if status != 200:
                raise ValueError(f"HTTP {status}")
        finally:
            curl.close()

    return call
