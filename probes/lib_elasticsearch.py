"""elasticsearch-py: a search against a fake node (``fake_elasticsearch``) answering after
``wait``.

The client (elastic-transport) sends requests with urllib3 over the ``socket`` module by
default: after ``patch_all()`` it is expected to cooperate. The fixture sends the
``X-Elastic-Product: Elasticsearch`` header the client checks.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["elasticsearch"], services=["fake_elasticsearch"], wait=0.3)
def elasticsearch_search(ctx):
    """Elasticsearch(url).search(index, match_all); the node answers after ``wait``."""
    import elasticsearch

    peer = ctx.service("fake_elasticsearch")
    client = elasticsearch.Elasticsearch(f"http://{peer.host}:{peer.port}", request_timeout=30,
                                         max_retries=0, retry_on_timeout=False)

    def call():
        try:
            reply = client.search(index=ctx.unique("index"), query={"match_all": {}})
            if reply["hits"]["total"]["value"] != 0:
                raise ValueError(f"unexpected search reply {dict(reply)!r}")
        finally:
            client.close()

    return call
