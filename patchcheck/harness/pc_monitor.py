"""Start gevent's monitor thread quietly. Shared by the child's hub meter (``pc_meter``, imported
by name in the child) and the pytest watchdog (``patchcheck.watch.meter``): standard library and
gevent only.

Read in gevent's ``_monitor.py``/``_config.py``: ``max_blocking_time`` is re-read on every
monitor loop; ``print_blocking_reports`` exists from gevent 25.4.1 (gevent #2002, #2070); the
monitor thread stops itself at its first check while the hub greenlet has not started yet.
"""


def start_monitor(max_blocking_time, on_blocked, brief_reports=False):
    """Start (or reuse) the hub's monitor thread with reports kept off stderr, and call
    ``on_blocked(event)`` for each ``EventLoopBlocked`` it reports.

    ``brief_reports``: the event's report (``event.info``) keeps gevent's header and the
    blocked stack but not ``format_run_info()`` — every thread's stack and the greenlet tree,
    found by walking every object the garbage collector tracks: ~10 ms a report in a pytest
    process, made once per period for as long as the hub stays blocked, holding the GIL
    (gevent #1344). Nobody prints it here, and a watchdog that samples the stack itself needs
    none of it. ``stop()`` puts gevent's full reports back.

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
    restore = _brief_reports(monitor) if brief_reports else None

    def stop():
        try:
            zope.event.subscribers.remove(listener)
        except ValueError:
            pass
        if restore is not None:
            restore()

    return monitor, stop


def _brief_reports(monitor):
    """Make the monitor's blocking check build gevent's report only up to its ``Info:`` line
    (header and blocked stack, the same lines), without ``format_run_info()``.

    gevent calls ``monitor_blocking(hub)`` through the first entry of the monitor's
    ``_monitoring_functions``; the report is built by the tracer (compiled: its methods cannot
    be replaced), so the entry's function is swapped for a copy of ``monitor_blocking`` that
    builds the brief report. Not a public API: feature-detected, and None (full reports) when
    gevent's monitor is not laid out that way. Returns a function that restores the original.
    """
    try:
        entry = monitor._monitoring_functions[0]
        original = entry.function
        tracer = monitor._greenlet_tracer
        if original != monitor.monitor_blocking or not callable(tracer.did_block_hub):
            return None
        import sys
        import traceback

        from gevent import config
        from gevent.events import EventLoopBlocked, notify
    except Exception:
        return None

    def report_for(hub, active_greenlet):
        import time

        report = ["=" * 80, "\n%s : Greenlet %s appears to be blocked"
                  % (time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime()), active_greenlet),
                  "    Reported by %s" % (monitor,)]
        frame = sys._current_frames().get(hub.thread_ident)
        if frame is None:
            stack = ["Unknown: No thread found for hub %r\n" % (hub,)]
        else:
            stack = traceback.format_stack(frame)
            del frame
        report.append("Blocked Stack (for thread id %s):" % (hex(hub.thread_ident),))
        report.append("".join(stack))
        report.append("Info:")
        report.append("(threads and greenlets left out: patchcheck's brief reports)")
        return report

    def monitor_blocking(hub):
        # gevent's PeriodicMonitoringThread.monitor_blocking, with report_for()
        did_block = tracer.did_block_hub(hub)
        if not did_block:
            return None
        active_greenlet = did_block[1]
        report = report_for(hub, active_greenlet)
        try:
            event = EventLoopBlocked(active_greenlet, config.max_blocking_time, report, hub=hub)
        except TypeError:  # gevent < 24.11.1: no hub argument
            event = EventLoopBlocked(active_greenlet, config.max_blocking_time, report)
        notify(event)
        return monitor._show_blocking_report(hub, report, active_greenlet)

    entry.function = monitor_blocking

    def restore():
        if entry.function is monitor_blocking:
            entry.function = original

    return restore
