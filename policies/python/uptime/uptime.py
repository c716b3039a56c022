"""A metrics add-on, in Python: adds ``uptimeSeconds`` and ``restartCount`` to
the object ``metrics`` prints. Install it as ``metrics.d/uptime`` and grant it
``inspect`` on ``self``."""

from sme_guest import clock, containers, metrics


@metrics
def uptime(request):
    container = containers.inspect(request.service)
    uptime_ms = 0
    if container.running and container.started_ms is not None:
        uptime_ms = max(clock.now_ms() - container.started_ms, 0)
    return {"uptimeSeconds": uptime_ms // 1000, "restartCount": container.restart_count}
