"""boto3: an S3 ``ListObjectsV2`` against a fake S3 (``fake_s3``) that answers after ``wait``.

boto3 is a layer over botocore, which sends requests with urllib3 over the ``socket`` module:
after ``patch_all()`` it is expected to cooperate. Dummy credentials, an explicit loopback
``endpoint_url`` and path-style addressing: boto3 never looks for credentials (no
instance-metadata request) and never leaves loopback.

``import_order="both"``: ``import boto3`` loads ssl (through botocore and urllib3), so an app
that imports it before ``patch_all()`` gets ``RecursionError`` (gevent#1016) when the client
is created; measured in each order, not assumed.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["boto3"], services=["fake_s3"], wait=0.3, import_order="both")
def boto3_list_objects(ctx):
    """boto3.client("s3", endpoint_url=fake).list_objects_v2(); answered after ``wait``."""
    import boto3
    from botocore.config import Config

    peer = ctx.service("fake_s3")
    session = boto3.session.Session(aws_access_key_id=peer.access_key,
                                    aws_secret_access_key=peer.secret_key,
                                    region_name=peer.region)
    client = session.client(
        "s3", endpoint_url=f"http://{peer.host}:{peer.port}",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                      connect_timeout=30, read_timeout=30, proxies={}))
    # Warm botocore's lazy work (endpoint rules, request serialisation) without a request, so
    # the measured call is the wait, not tens of ms of first-use CPU on the hub.
    client.generate_presigned_url("list_objects_v2", Params={"Bucket": peer.bucket})

    def call():
        try:
            listing = client.list_objects_v2(Bucket=peer.bucket)
            if listing.get("KeyCount") != 0:
                raise ValueError(f"unexpected listing {listing!r}")
        finally:
            client.close()

    return call
