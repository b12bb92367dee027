"""A tiny RPC client the way Locust writes it (locust/rpc/zmqrpc.py)."""

import zmq.green as zmq


def connect(port):
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    sock.connect(f"tcp://127.0.0.1:{port}")
    return sock
