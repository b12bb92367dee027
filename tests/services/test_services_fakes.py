"""The protocol fixtures (fake mongod, fake S3, fake Elasticsearch, websocket echo) spoken to by
the real client libraries, in the (unpatched) test process, with no delay: each server answers
what the client sends, counts it, and stops cleanly. Skipped when a client is not installed
(CI installs tests/requirements-fakes.txt)."""
from __future__ import annotations

import datetime
import socket
import threading

import pytest
from pc_svc_helpers import require

from patchcheck.services import ServiceRegistry, builtin_services
from patchcheck.services.fake_http_apis import FakeElasticsearchServer, FakeS3Server
from patchcheck.services.fake_mongo import FakeMongoServer, bson_decode, bson_encode
from patchcheck.services.fake_websocket import FakeWebSocketServer


def _client(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        require(False, f"{module} is not installed (pip install -r tests/requirements-fakes.txt)")


pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def test_bson_round_trip_agrees_with_pymongo_bson() -> None:
    bson = _client("bson")
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
    doc = {"find": "coll", "n": 7, "big": 2**40, "x": 1.5, "ok": True, "none": None,
           "sub": {"a": [1, "two", {"three": 3}]}, "when": when}
    ours = bson_encode(doc)
    assert bson.decode(ours, codec_options=bson.CodecOptions(tz_aware=True)) == doc
    theirs = bson.encode({**doc, "oid": bson.ObjectId(), "bin": bson.Binary(b"\1\2", 4)})
    decoded, end = bson_decode(theirs)
    assert end == len(theirs)
    assert {k: decoded[k] for k in doc} == doc
    assert len(decoded["oid"]) == 12 and decoded["bin"] == b"\1\2"


def test_fake_mongo_serves_pymongo() -> None:
    pymongo = _client("pymongo")
    with FakeMongoServer(0.0) as server:
        client = pymongo.MongoClient(server.endpoint.url, serverSelectionTimeoutMS=5000)
        try:
            assert client.admin.command("ping")["ok"] == 1.0
            assert client.patchcheck.things.find_one({"a": 1}) is None
            assert client.patchcheck.things.insert_one({"a": 1}).acknowledged
            assert client.server_info()["version"] == "7.0.0"
        finally:
            client.close()
        assert server.commands == {"ping": 1, "find": 1, "insert": 1}
        assert server.errors == []


def test_fake_mongo_drops_a_client_that_speaks_another_protocol() -> None:
    with FakeMongoServer(0.0) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100) == b""  # closed, no reply
        assert server.errors == []


def test_fake_mongo_stops_with_a_reply_pending() -> None:
    pymongo = _client("pymongo")
    server = FakeMongoServer(60.0).start()
    client = pymongo.MongoClient(server.endpoint.url, serverSelectionTimeoutMS=5000,
                                 socketTimeoutMS=30000)
    failed: list[BaseException] = []

    def query() -> None:
        try:
            client.admin.command("ping")
        except Exception as exc:
            failed.append(exc)

    thread = threading.Thread(target=query)
    thread.start()
    try:
        from pc_svc_helpers import wait_until
        assert wait_until(lambda: server.commands.get("ping") == 1)
    finally:
        server.stop()
        thread.join(10)
        client.close()
    assert not thread.is_alive()
    assert failed and isinstance(failed[0], pymongo.errors.AutoReconnect), failed


def test_fake_s3_serves_boto3() -> None:
    boto3 = _client("boto3")
    from botocore.config import Config

    with FakeS3Server(0.0) as server:
        extra = server.endpoint.extra
        client = boto3.session.Session(
            aws_access_key_id=extra["access_key"], aws_secret_access_key=extra["secret_key"],
            region_name=extra["region"]).client(
            "s3", endpoint_url=f"http://{server.host}:{server.port}",
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                          proxies={}))
        try:
            assert client.list_objects_v2(Bucket=extra["bucket"])["KeyCount"] == 0
            assert [b["Name"] for b in client.list_buckets()["Buckets"]] == [extra["bucket"]]
            assert client.head_bucket(Bucket="patchcheck")["ResponseMetadata"][
                "HTTPStatusCode"] == 200
            assert client.put_object(Bucket="patchcheck", Key="k", Body=b"v")["ETag"]
        finally:
            client.close()
        assert server.requests == 4 and server.errors == []


def test_fake_elasticsearch_serves_the_client() -> None:
    elasticsearch = _client("elasticsearch")
    with FakeElasticsearchServer(0.0) as server:
        client = elasticsearch.Elasticsearch(server.endpoint.url, max_retries=0)
        try:
            assert client.info()["version"]["number"] == "8.15.0"
            assert client.search(index="i", query={"match_all": {}})["hits"]["hits"] == []
        finally:
            client.close()
        assert server.requests == 2 and server.errors == []


def test_fake_websocket_echoes_for_websocket_client() -> None:
    websocket = _client("websocket")
    with FakeWebSocketServer(0.0) as server:
        ws = websocket.create_connection(server.endpoint.url, timeout=10)
        try:
            ws.send("hello")
            assert ws.recv() == "hello"
            ws.send_binary(b"x" * 70000)  # a 64-bit length frame
            assert ws.recv() == b"x" * 70000
            ws.ping(b"p")
        finally:
            ws.close()
        assert server.requests == 2 and server.errors == []


def test_fake_websocket_refuses_a_plain_http_request() -> None:
    with FakeWebSocketServer(0.0) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("name", ["fake_mongo", "fake_s3", "fake_elasticsearch",
                                  "slow_websocket"])
def test_registered_as_builtin_services(name: str) -> None:
    with ServiceRegistry(builtin_services(env={})) as registry:
        endpoint = registry.endpoint(name, 0.3)
        assert endpoint.host == "127.0.0.1" and endpoint.port > 0
        assert endpoint.extra["delay"] == 0.3
