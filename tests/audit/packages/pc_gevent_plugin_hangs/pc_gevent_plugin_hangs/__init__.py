"""A gevent plugin whose import never finishes (a lock or a network call at import time)."""
import time

time.sleep(3600)


def will_patch_all(event):  # pragma: no cover - never reached
    pass
