"""HTTP APIs that answer late: a fake S3 and a fake Elasticsearch node.

Both are :class:`~patchcheck.services.fixtures.SlowHTTPServer` (keep-alive, one thread per
connection, ``delay`` before every answer) with bodies and headers the real clients accept:

* :class:`FakeS3Server`: ``GET /`` → ``ListAllMyBucketsResult``; ``GET /<bucket>`` →
  an empty ``ListBucketResult``; ``HEAD`` → 200; ``PUT`` → 200 with an ``ETag``. Clients use
  path-style addressing against ``http://127.0.0.1:PORT`` with any credentials (nothing is
  checked, no signature verified).
* :class:`FakeElasticsearchServer`: JSON with ``X-Elastic-Product: Elasticsearch``, the header
  the elasticsearch client (>= 7.14) requires; ``GET /`` → cluster info; ``*/_search`` → no
  hits; anything else → ``{"acknowledged": true}``.
"""
from __future__ import annotations

import http
import json
from typing import Any

from patchcheck.services.fixtures import SlowHTTPServer

__all__ = ["FakeElasticsearchServer", "FakeS3Server"]

_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _status_line(status: int) -> str:
    try:
        return f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP/1.1 {status} Unknown"


class _FakeAPI(SlowHTTPServer):
    """Builds a body from the request's method and path (the payload SlowHTTPServer makes)."""

    def _body(self, method: str, path: str, status: int) -> tuple[bytes, list[str]]:
        raise NotImplementedError

    def _respond(self, conn: Any, status: int, payload: dict[str, Any], *,
                 keep_alive: bool, head: bool = False) -> None:
        body, headers = self._body(str(payload.get("method", "")), str(payload.get("path", "/")),
                                   status)
        lines = [_status_line(status), f"Server: patchcheck-{self.service_name}",
                 f"Connection: {'keep-alive' if keep_alive else 'close'}", *headers,
                 f"Content-Length: {len(body)}"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._send(conn, data if head else data + body)


class FakeS3Server(_FakeAPI):
    service_name = "fake_s3"

    def _extra(self) -> dict[str, Any]:
        return {"bucket": "patchcheck", "region": "us-east-1",
                "access_key": "patchcheck", "secret_key": "patchcheck"}

    def _body(self, method: str, path: str, status: int) -> tuple[bytes, list[str]]:
        if status >= 300:
            xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{status}</Code>"
                   f"<Message>patchcheck fake S3</Message></Error>")
            return xml.encode(), ["Content-Type: application/xml"]
        if method in ("HEAD", "PUT", "DELETE", "POST"):
            return b"", ['ETag: "d41d8cd98f00b204e9800998ecf8427e"']
        bucket = path.strip("/").split("/")[0]
        if not bucket:
            xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult "
                   f"xmlns=\"{_S3_NS}\"><Owner><ID>patchcheck</ID><DisplayName>patchcheck"
                   f"</DisplayName></Owner><Buckets><Bucket><Name>patchcheck</Name>"
                   f"<CreationDate>2024-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets>"
                   f"</ListAllMyBucketsResult>")
        else:
            xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
                   f"xmlns=\"{_S3_NS}\"><Name>{bucket}</Name><Prefix></Prefix><KeyCount>0"
                   f"</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
                   f"</ListBucketResult>")
        return xml.encode(), ["Content-Type: application/xml"]


class FakeElasticsearchServer(_FakeAPI):
    service_name = "fake_elasticsearch"

    def _body(self, method: str, path: str, status: int) -> tuple[bytes, list[str]]:
        headers = ["X-Elastic-Product: Elasticsearch",
                   "Content-Type: application/vnd.elasticsearch+json;compatible-with=8"]
        document: dict[str, Any]
        if status >= 300:
            document = {"error": {"type": "patchcheck_fake", "reason": "fake"}, "status": status}
        elif path.rstrip("/") == "":
            document = {"name": "patchcheck", "cluster_name": "patchcheck",
                        "cluster_uuid": "patchcheck", "tagline": "You Know, for Search",
                        "version": {"number": "8.15.0", "build_flavor": "default",
                                    "lucene_version": "9.11.1",
                                    "minimum_wire_compatibility_version": "7.17.0",
                                    "minimum_index_compatibility_version": "7.0.0"}}
        elif path.endswith("/_search"):
            document = {"took": 1, "timed_out": False,
                        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                        "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None,
                                 "hits": []}}
        else:
            document = {"acknowledged": True}
        return json.dumps(document).encode(), headers
