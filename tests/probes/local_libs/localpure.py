"""A pure-Python client: looks ``socket.socket`` up at call time, so patching reaches it."""
import socket


class Client:
    def __init__(self, host, port):
        self.address = (host, port)

    def request(self, data=b"ping\n"):
        with socket.create_connection(self.address, timeout=30) as sock:
            sock.sendall(data)
            return sock.recv(4096)
