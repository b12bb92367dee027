"""The public extension API of patchcheck: pluggy hook specifications, grouped by phase.

Every hook runs in the **tool process** (never inside a measured child). Plugins register
through the ``patchcheck`` entry-point group, or are loaded from ``--probe-path`` folders.
Hooks that add a capability return lists of typed objects (see ``patchcheck.spec``).

Precedence (:func:`patchcheck.plugins.collect`): built-ins are registered first, so an object
a plugin returns with a built-in's name (a ``table`` reporter, a ``redis`` service, a probe, a
knowledge entry for the same distribution and versions) replaces the built-in. When two plugins
that are not built-in return the same name, the one registered later wins and a
``patchcheck.plugins.PluginConflictWarning`` names both.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from patchcheck.spec import KnowledgeEntry, ProbeSpec, ReporterSpec, ServiceSpec

PROJECT = "patchcheck"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- planning phase ------------------------------------------------------------------------


@hookspec
def patchcheck_add_probes() -> Sequence[ProbeSpec]:
    """Return probes this plugin provides.

    A probe's ``path`` names a file that the target interpreter executes in a child process;
    that file may import only the standard library, gevent/greenlet, ``patchcheck_probe`` and
    the library under test. Runs in the tool process.

    .. versionadded:: 0.1
    """


@hookspec
def patchcheck_add_services() -> Sequence[ServiceSpec]:
    """Return services (loopback servers) that probes can name in ``services=``.

    Runs in the tool process; a service is started at most once per scan and stopped after it.

    .. versionadded:: 0.1
    """


@hookspec
def patchcheck_add_knowledge() -> Sequence[KnowledgeEntry]:
    """Return knowledge entries: what is known about a distribution and its remedy.

    Knowledge never overrides a measurement; it is shown beside it. Runs in the tool process.

    .. versionadded:: 0.1
    """


# --- reporting phase -----------------------------------------------------------------------


@hookspec
def patchcheck_add_reporters() -> Sequence[ReporterSpec]:
    """Return report formats selectable with ``--format NAME``.

    Runs in the tool process after the scan.

    .. versionadded:: 0.1
    """
