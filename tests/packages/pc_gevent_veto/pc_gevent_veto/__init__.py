"""Any installed distribution can cancel every patch_all() of the environment: gevent calls
the ``gevent.plugins.monkey.will_patch_all`` entry points first, and ``DoNotPatch`` aborts."""
from gevent.events import DoNotPatch


def veto(event):
    raise DoNotPatch("pc_gevent_veto says no")
