"""A gevent plugin that loads: counts the events gevent calls it with."""
CALLS = []


def did_patch_all(event):
    CALLS.append(type(event).__name__)


def will_patch_module(event):
    CALLS.append(type(event).__name__)
