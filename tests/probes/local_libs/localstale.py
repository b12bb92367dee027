"""A pure-Python client that captures ``socket.socket`` at import time (a stale reference):
imported before ``patch_all()`` it keeps the blocking original; imported after, it cooperates."""
from socket import AF_INET, SOCK_STREAM
from socket import socket as _Socket


class Client:
    def __init__(self, host, port):
        self.address = (host, port)

    def request(self, data=b"ping\n"):
        sock = _Socket(AF_INET, SOCK_STREAM)
        try:
            sock.settimeout(30)
            sock.connect(self.address)
            sock.sendall(data)
            return sock.recv(4096)
        finally:
            sock.close()
