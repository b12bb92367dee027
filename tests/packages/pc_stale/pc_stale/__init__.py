"""Captures blocking originals at import time: imported before patch_all(), it keeps them."""
from socket import socket
from time import sleep


class Client:
    def __init__(self, pause=sleep):
        self._pause = pause

    def connect(self, host, port):
        s = socket()
        s.connect((host, port))
        return s
