"""Build the plugin manager: specs, entry points, built-ins, local probe folders.

Built inside a function (never at import time), like pluggy's eggsample host.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pluggy

from patchcheck import hookspecs

ENTRY_POINT_GROUP = "patchcheck"
DISABLE_AUTOLOAD_ENV = "PATCHCHECK_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugins, registered like any third-party plugin.
BUILTIN_PLUGINS = (
    "patchcheck.builtin",  # built-in probes (the probes/ folder)
    "patchcheck.services",  # loopback fixture servers and real services
    "patchcheck.services.ldap",  # our own slapd
    "patchcheck.services.ssh",  # our own sshd
    "patchcheck.services.zookeeper",  # our own ZooKeeper
    "patchcheck.knowledge",  # known.toml
    "patchcheck.reporters",  # table, json, junit, sarif, markdown, github
)


def make_plugin_manager(probe_paths: Iterable[str | os.PathLike[str]] = ()) -> pluggy.PluginManager:
    import importlib

    from patchcheck.probeloader import LocalProbes

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if not os.environ.get(DISABLE_AUTOLOAD_ENV):
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
    paths = [Path(p) for p in probe_paths]
    if paths:
        pm.register(LocalProbes(paths), name="patchcheck.local-probes")
    pm.check_pending()
    return pm
