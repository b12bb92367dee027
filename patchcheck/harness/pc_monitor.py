"""Start gevent's monitor thread quietly. Shared by the child's hub meter (``pc_meter``, imported
by name in the child) and the pytest watchdog (``patchcheck.watch.meter``): standard library and
gevent only.

Read in gevent's ``_monitor.py``/``_config.py``: ``max_blocking_time`` is re-read on every
monitor loop; ``print_blocking_reports`` exists from gevent 25.4.1 (gevent #2002, #2070); the
monitor thread stops itself at its first check while the hub greenlet has not started yet.
"""


def start_monitor(max_blocking_time, on_blocked):
    """Start (or reuse) the hub's monitor thread with reports kept off stderr, and call
    ``on_blocked(event)`` for each ``EventLoopBlocked`` it reports.

    Returns ``(monitor, stop)`` — ``stop()`` unsubscribes — or None when gevent cannot monitor
    here.
    """
    try:
        import warnings

        import gevent
        import zope.event
        from gevent.events import EventLoopBlocked
    except Exception:
        return None
    cfg = gevent.config
    try:
        cfg.monitor_thread = True
        cfg.max_blocking_time = max_blocking_time
    except Exception:
        return None
    quiet = True
    try:
        cfg.print_blocking_reports = False
    except Exception:
        quiet = False
    hub = gevent.get_hub()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "psutil not installed": memory is not our business
        try:
            gevent.sleep(0)  # start the hub greenlet, or the monitor stops at its first check
            monitor = hub.start_periodic_monitoring_thread()
        except Exception:
            monitor = None
    if monitor is None:
        return None
    if not quiet and hasattr(monitor, "_show_blocking_report"):
        # Older gevent prints every report to stderr, which belongs to the library / pytest.
        monitor._show_blocking_report = lambda _hub, report, greenlet: (greenlet, report)

    def listener(event):
        if isinstance(event, EventLoopBlocked):
            on_blocked(event)

    zope.event.subscribers.append(listener)

    def stop():
        try:
            zope.event.subscribers.remove(listener)
        except ValueError:
            pass

    return monitor, stop
