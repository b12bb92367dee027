"""Version 1.0: uses the socket module through its attribute, so patching reaches it."""
import socket


def connect(host, port):
    return socket.create_connection((host, port))
