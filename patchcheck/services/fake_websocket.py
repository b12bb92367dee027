"""A websocket server (RFC 6455) that echoes each message after the delay.

It answers the HTTP Upgrade handshake at once (``Sec-WebSocket-Accept``), then for every data
frame from the client (masked, as RFC 6455 requires) waits ``delay`` and sends the payload back
unmasked with the same opcode; ping → pong and close → close are answered at once. Frames are
read whole (fragmented messages are echoed frame by frame, enough for clients' ``send``/``recv``).
"""
from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from patchcheck.services.fixtures.base import StreamServer

__all__ = ["FakeWebSocketServer"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_FRAME = 16 * 1024 * 1024
_OP_CLOSE, _OP_PING, _OP_PONG = 0x8, 0x9, 0xA


class FakeWebSocketServer(StreamServer):
    service_name = "slow_websocket"
    scheme = "ws"

    def _url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    def _handle(self, conn: Any) -> None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self._recv(conn)
            if not data or len(buf) > 64 * 1024:
                return
            buf += data
        head, _, buf = buf.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        client_key = headers.get("sec-websocket-key")
        if "websocket" not in headers.get("upgrade", "").lower() or not client_key:
            self._send(conn, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            return
        accept = base64.b64encode(hashlib.sha1(client_key.encode() + _GUID).digest()).decode()
        self._send(conn, ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                          ).encode())
        while True:
            frame, buf = self._frame(conn, buf)
            if frame is None:
                return
            fin_opcode, payload = frame
            opcode = fin_opcode & 0x0F
            if opcode == _OP_CLOSE:
                self._send(conn, _encode(0x80 | _OP_CLOSE, payload[:2]))
                return
            if opcode == _OP_PING:
                self._send(conn, _encode(0x80 | _OP_PONG, payload))
            elif opcode != _OP_PONG:
                self._delayed(self.delay)
                self._send(conn, _encode(fin_opcode, payload))

    def _frame(self, conn: Any, buf: bytes) -> tuple[tuple[int, bytes] | None, bytes]:
        def need(size: int) -> bool:
            nonlocal buf
            while len(buf) < size:
                data = self._recv(conn)
                if not data:
                    return False
                buf += data
            return True

        if not need(2):
            return None, buf
        first, second = buf[0], buf[1]
        length, pos = second & 0x7F, 2
        if length == 126:
            if not need(4):
                return None, buf
            (length,), pos = struct.unpack_from("!H", buf, 2), 4
        elif length == 127:
            if not need(10):
                return None, buf
            (length,), pos = struct.unpack_from("!Q", buf, 2), 10
        if length > _MAX_FRAME or not second & 0x80:
            return None, buf  # too large, or an unmasked client frame (RFC 6455 5.1): drop
        if not need(pos + 4 + length):
            return None, buf
        mask = buf[pos:pos + 4]
        data = buf[pos + 4:pos + 4 + length]
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return (first, payload), buf[pos + 4 + length:]


def _encode(fin_opcode: int, payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", fin_opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", fin_opcode, 126, length)
    else:
        header = struct.pack("!BBQ", fin_opcode, 127, length)
    return header + payload
