"""A pure-Python client that looks up socket at call time: cooperates once patched."""
import socket


def fetch(host, port, payload=b"ping\n", timeout=10.0):
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(payload)
        return conn.recv(1024)
