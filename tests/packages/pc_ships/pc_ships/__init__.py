"""The library: imports cleanly, patched or not."""


def hello() -> str:
    return "hello"
