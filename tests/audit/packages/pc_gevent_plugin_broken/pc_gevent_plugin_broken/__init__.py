"""A gevent plugin whose module raises on import, as a plugin with a missing dependency does."""
raise ImportError("pc_gevent_plugin_broken needs a module that is not installed")


def did_patch_all(event):  # pragma: no cover - never reached
    pass
