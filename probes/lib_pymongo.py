"""pymongo against a fake ``mongod`` (``fake_mongo``): a ``find`` answered after ``wait``.

The fixture answers the handshake and monitoring (``hello``) at once and every other command
late. pymongo is pure Python over the ``socket`` module; its server monitors are
``threading.Thread``\\ s, which are greenlets once patched. After ``patch_all()`` a query is
expected to cooperate. pymongo's own advice for gevent is about shutdown, not waiting: call
``MongoClient.close()`` before the hub exits, or its monitor greenlets keep ``Hub.join()``
waiting (a knowledge entry says so).
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["pymongo"], services=["fake_mongo"], wait=0.3)
def pymongo_find(ctx):
    """MongoClient(directConnection=True).db.coll.find_one(); the server answers after ``wait``."""
    import pymongo

    peer = ctx.service("fake_mongo")
    client = pymongo.MongoClient(host=peer.host, port=int(peer.port), directConnection=True,
                                 serverSelectionTimeoutMS=10000, connectTimeoutMS=10000,
                                 socketTimeoutMS=30000, appname="patchcheck")
    collection = client[peer.get("database") or "patchcheck"][ctx.unique("coll")]

    def call():
        try:
            found = collection.find_one({"probe": ctx.index})
            if found is not None:
                raise ValueError(f"find_one on an empty collection returned {found!r}")
        finally:
            client.close()  # pymongo's advice under gevent: close before the hub exits

    return call
