"""Version 2.0: a refactor captured ``socket.socket`` at import time (a stale reference)."""
from socket import socket


def connect(host, port):
    sock = socket()
    sock.connect((host, port))
    return sock
