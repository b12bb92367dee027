"""A fake ``mongod`` on loopback: enough of the wire protocol for a driver to connect, then slow.

It speaks OP_MSG (opcode 2013) and the legacy OP_QUERY (2004) that drivers still use for the
first handshake, and answers:

* the handshake and monitoring commands (``hello``, ``isMaster``/``ismaster``, ``buildInfo``,
  ``saslStart``… see ``_HANDSHAKE``) at once, as a standalone server of wire version 21
  (MongoDB 7.0) without ``topologyVersion``, so drivers poll rather than stream;
* every other command after the delay: ``find``/``aggregate`` with an empty first batch
  (cursor id 0), anything else with ``{"ok": 1}``.

Requests on one connection are read as they arrive and answered each ``delay`` after it
arrived, in order, so a driver's pipelined or concurrent use keeps its pace. A minimal BSON
codec (the types drivers put in commands) keeps the tool process free of the ``bson`` package:
the tool never imports a target library (docs/architecture.md, "Hard rules").
"""
from __future__ import annotations

import datetime
import queue
import struct
import time
from typing import Any

from patchcheck.services.fixtures.base import Stopped, StreamServer, abort_socket

__all__ = ["FakeMongoServer", "bson_decode", "bson_encode"]

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
_MORE_TO_COME = 1 << 1
_CHECKSUM_PRESENT = 1 << 0
_MAX_MESSAGE = 48_000_000
_EOF = object()
#: Answered at once: what a driver sends to connect, authenticate and monitor.
_HANDSHAKE = frozenset({"hello", "ismaster", "buildinfo", "getlasterror", "saslstart",
                        "saslcontinue", "getnonce", "authenticate",
                        "endsessions", "killcursors", "getparameter", "whatsmyuri"})


class _BadMessage(Exception):
    pass


# --- BSON (the subset drivers send in commands) ---------------------------------------------


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("utf-8", "replace"), end + 1


def bson_decode(data: bytes, pos: int = 0) -> tuple[dict[str, Any], int]:
    """One document at ``pos``: (dict, position after it). Binary, ObjectId, Timestamp and
    Decimal128 values come back as bytes; unknown types raise ``ValueError``."""
    (size,) = struct.unpack_from("<i", data, pos)
    end = pos + size
    if size < 5 or end > len(data) or data[end - 1] != 0:
        raise ValueError("malformed BSON document")
    pos += 4
    out: dict[str, Any] = {}
    while pos < end - 1:
        kind = data[pos]
        key, pos = _cstring(data, pos + 1)
        value: Any
        if kind == 0x01:
            (value,), pos = struct.unpack_from("<d", data, pos), pos + 8
        elif kind == 0x02:
            (length,) = struct.unpack_from("<i", data, pos)
            value, pos = data[pos + 4:pos + 3 + length].decode("utf-8", "replace"), pos + 4 + length
        elif kind in (0x03, 0x04):
            doc, pos = bson_decode(data, pos)
            value = doc if kind == 0x03 else list(doc.values())
        elif kind == 0x05:
            (length,) = struct.unpack_from("<i", data, pos)
            value, pos = data[pos + 5:pos + 5 + length], pos + 5 + length
        elif kind == 0x07:
            value, pos = data[pos:pos + 12], pos + 12
        elif kind == 0x08:
            value, pos = data[pos] != 0, pos + 1
        elif kind == 0x09:
            (millis,) = struct.unpack_from("<q", data, pos)
            value = datetime.datetime.fromtimestamp(millis / 1000, datetime.timezone.utc)
            pos += 8
        elif kind == 0x0A:
            value = None
        elif kind == 0x10:
            (value,), pos = struct.unpack_from("<i", data, pos), pos + 4
        elif kind in (0x11, 0x12):
            (value,), pos = struct.unpack_from("<q", data, pos), pos + 8
            if kind == 0x11:
                value = data[pos - 8:pos]
        elif kind == 0x13:
            value, pos = data[pos:pos + 16], pos + 16
        elif kind in (0x7F, 0xFF):
            value = None  # MaxKey / MinKey
        else:
            raise ValueError(f"unsupported BSON type 0x{kind:02x} for {key!r}")
        out[key] = value
    return out, end


def _element(key: str, value: Any) -> bytes:
    name = key.encode() + b"\0"
    if isinstance(value, bool):
        return b"\x08" + name + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return b"\x10" + name + struct.pack("<i", value)
        return b"\x12" + name + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + name + struct.pack("<d", value)
    if isinstance(value, str):
        raw = value.encode() + b"\0"
        return b"\x02" + name + struct.pack("<i", len(raw)) + raw
    if isinstance(value, dict):
        return b"\x03" + name + bson_encode(value)
    if isinstance(value, (list, tuple)):
        return b"\x04" + name + bson_encode({str(i): v for i, v in enumerate(value)})
    if isinstance(value, datetime.datetime):
        return b"\x09" + name + struct.pack("<q", int(value.timestamp() * 1000))
    if value is None:
        return b"\x0A" + name
    raise TypeError(f"cannot encode {type(value).__name__} as BSON")


def bson_encode(doc: dict[str, Any]) -> bytes:
    body = b"".join(_element(k, v) for k, v in doc.items()) + b"\0"
    return struct.pack("<i", len(body) + 4) + body


# --- the server -----------------------------------------------------------------------------


class FakeMongoServer(StreamServer):
    """A standalone ``mongod`` that answers handshakes at once and other commands late.

    ``commands`` counts the delayed commands by name (evidence for tests)."""

    service_name = "fake_mongo"
    scheme = "mongodb"

    def __init__(self, delay: float = 0.0, *, name: str | None = None) -> None:
        super().__init__(delay, name=name)
        self.commands: dict[str, int] = {}
        self._next_id = 1

    def _url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def _extra(self) -> dict[str, Any]:
        return {"database": "patchcheck", "max_wire_version": 21}

    def _handle(self, conn: Any) -> None:
        replies: queue.Queue[Any] = queue.Queue()
        self._spawn(self._writer, conn, replies)
        buf = b""
        try:
            while True:
                while len(buf) < 16 or len(buf) < struct.unpack_from("<i", buf)[0]:
                    if len(buf) >= 4 and not 16 <= struct.unpack_from("<i", buf)[0] <= _MAX_MESSAGE:
                        return  # not the MongoDB wire protocol: drop the connection
                    data = self._recv(conn)
                    if not data:
                        return
                    buf += data
                (length,) = struct.unpack_from("<i", buf)
                message, buf = buf[:length], buf[length:]
                try:
                    reply, delayed = self._answer(message)
                except (_BadMessage, ValueError, TypeError, struct.error, IndexError):
                    return
                if reply is not None:
                    due = time.monotonic() + (self.delay if delayed else 0.0)
                    if delayed:
                        self._begin_reply()
                    replies.put((due, reply, delayed))
        finally:
            replies.put(_EOF)

    def _writer(self, conn: Any, replies: queue.Queue[Any]) -> None:
        while True:
            try:
                item = replies.get(timeout=0.05)
            except queue.Empty:
                if self._stopping.is_set():
                    raise Stopped from None
                continue
            if item is _EOF:
                return
            due, reply, delayed = item
            try:
                self._sleep(due - time.monotonic())
                self._send(conn, reply)
            except (OSError, Stopped):
                abort_socket(conn)
                raise
            finally:
                if delayed:
                    self._end_reply()

    def _answer(self, message: bytes) -> tuple[bytes | None, bool]:
        _, request_id, _, opcode = struct.unpack_from("<iiii", message)
        if opcode == OP_MSG:
            (flags,) = struct.unpack_from("<I", message, 16)
            end = len(message) - (4 if flags & _CHECKSUM_PRESENT else 0)
            pos, body = 20, None
            while pos < end:
                kind = message[pos]
                if kind == 0:
                    body, pos = bson_decode(message, pos + 1)
                elif kind == 1:  # a document sequence (inserts…): not needed to answer
                    (size,) = struct.unpack_from("<i", message, pos + 1)
                    pos += 1 + size
                else:
                    raise _BadMessage(f"OP_MSG section kind {kind}")
            if body is None:
                raise _BadMessage("OP_MSG without a body")
            reply, delayed = self._command(body)
            if flags & _MORE_TO_COME:
                return None, False  # an unacknowledged write: no reply
            payload = struct.pack("<I", 0) + b"\0" + bson_encode(reply)
            return self._header(len(payload), request_id, OP_MSG) + payload, delayed
        if opcode == OP_QUERY:
            _, pos = _cstring(message, 20)  # flags, then fullCollectionName ("admin.$cmd")
            query, _ = bson_decode(message, pos + 8)  # numberToSkip, numberToReturn
            if "$query" in query:
                query = query["$query"]
            reply, delayed = self._command(query)
            payload = struct.pack("<iqii", 0, 0, 0, 1) + bson_encode(reply)
            return self._header(len(payload), request_id, OP_REPLY) + payload, delayed
        raise _BadMessage(f"opcode {opcode}")

    def _header(self, payload_len: int, response_to: int, opcode: int) -> bytes:
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
        return struct.pack("<iiii", 16 + payload_len, request_id, response_to, opcode)

    def _command(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        if not body:
            raise _BadMessage("empty command")
        name = next(iter(body))
        lowered = name.lower()
        if lowered in ("hello", "ismaster"):
            return self._hello(), False
        if lowered == "buildinfo":
            return {"version": "7.0.0", "versionArray": [7, 0, 0, 0], "ok": 1.0}, False
        if lowered in _HANDSHAKE:
            return {"ok": 1.0}, False
        with self._lock:
            self.commands[name] = self.commands.get(name, 0) + 1
        if lowered in ("find", "aggregate"):
            database = body.get("$db", "test")
            collection = body[name] if isinstance(body[name], str) else "$cmd.aggregate"
            return {"cursor": {"firstBatch": [], "id": 0, "ns": f"{database}.{collection}"},
                    "ok": 1.0}, True
        return {"ok": 1.0}, True

    def _hello(self) -> dict[str, Any]:
        with self._lock:
            connection_id = self.connections
        return {"helloOk": True, "ismaster": True, "isWritablePrimary": True,
                "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": _MAX_MESSAGE,
                "maxWriteBatchSize": 100_000,
                "localTime": datetime.datetime.now(datetime.timezone.utc),
                "logicalSessionTimeoutMinutes": 30, "connectionId": connection_id,
                "minWireVersion": 0, "maxWireVersion": 21, "readOnly": False, "ok": 1.0}
