"""The reference operations on a Docker Swarm service, as the Rust SDK's
``sme_guest::edgex`` does them (see docs/swarm.md): a stop scales the service
to zero, remembering its replica count in the note ``replicas``; a start
scales it back (at least 1); a restart forces a rolling update; each waits for
the tasks, looking after 100 ms and then twice as long each time up to 1 s.
:mod:`sme_guest.edgex` calls these when ``services.target()`` names a service.

>>> from sme_guest import testing
>>> from sme_guest.edgex import Lifecycle
>>> testing.Scene().service("edgex-core-data", replicas=2).install()
>>> service_lifecycle(Lifecycle.STOP, "edgex-core-data", 12_000)
'""'
>>> testing.service_state("edgex-core-data").note("replicas")
'2'
"""

from __future__ import annotations

from typing import Callable, List, Optional

from . import clock, log, services
from .figures import Figures
from .types import Docker, Failure, HostError, Integer, Metric, NotFound, Service, TaskState, UpdateState

#: How long the default policies wait for a service's tasks (their
#: ``swarm_wait_ms`` setting's default), in milliseconds.
DEFAULT_SWARM_WAIT_MS = 12_000

# The first pause between two looks, doubled each time up to the longest:
# each look costs three counted host calls (now-ms, sleep, inspect), so
# looking every 100 ms for 12 s would outrun the default 100.
_POLL_MS = 100
_POLL_MAX_MS = 1000

_REPLICAS_NOTE = "replicas"

_DONE, _WAITING = "done", "waiting"


def service_failure(action, error: HostError) -> str:
    """The text for a failed call on a Swarm service: a daemon's refusal as the
    docker CLI printed one (no ``failed to start containers`` line), anything
    else ``<prefix>: <message>``.

    >>> from sme_guest.edgex import Lifecycle
    >>> service_failure(Lifecycle.START, NotFound("service edgex-x not found"))
    'exit status 1: Error response from daemon: service edgex-x not found\\n'
    """
    from .edgex import EXIT_STATUS_1, daemon_error

    if isinstance(error, (NotFound, Docker)):
        return EXIT_STATUS_1 + daemon_error(error.message)
    return f"{action.prefix()}: {error.message}"


def service_lifecycle(action, service: str, wait_ms: int) -> str:
    """Performs ``action`` on the Swarm service ``service`` and waits at most
    ``wait_ms`` for its tasks; returns ``SUCCESS`` or raises :class:`Failure`
    with the reference's texts (see the module's description)."""
    from .edgex import Lifecycle

    found = _call(action, lambda: services.inspect(service))
    if action is Lifecycle.STOP:
        return _stop(action, service, found, wait_ms)
    if action is Lifecycle.RESTART and found.replicas != 0:
        return _restart(action, service, found, wait_ms)
    return _start(action, service, found, wait_ms)


def service_metrics(service: str, window_ms: int) -> List[Metric]:
    """The reference's three fields summed over the service's running tasks on
    this node, then ``desiredTasks``, ``runningTasks`` and ``measuredTasks``."""
    from .edgex import EXIT_STATUS_1, daemon_error, metric_fields

    try:
        found = services.inspect(service)
        measured = services.task_stats(service, window_ms)
    except (NotFound, Docker) as error:
        raise Failure(EXIT_STATUS_1 + daemon_error(error.message)) from None
    except HostError as error:
        raise Failure(error.message) from None
    figures = Figures.sum([Figures.of(task.measurement) for task in measured])
    return metric_fields(figures) + [
        Metric("desiredTasks", Integer(found.desired_tasks)),
        Metric("runningTasks", Integer(found.running_tasks)),
        Metric("measuredTasks", Integer(len(measured))),
    ]


def _call(action, call):
    try:
        return call()
    except HostError as error:
        raise Failure(service_failure(action, error)) from None


def _stop(action, service: str, found: Service, wait_ms: int) -> str:
    from .edgex import SUCCESS

    if found.replicas is None:
        raise Failure(f"{action.prefix()}: service {service} is global (one task per node): "
                      "SME stops only replicated services")
    if found.replicas == 0 and found.running_tasks == 0:
        return SUCCESS
    current: Optional[Service] = found
    if found.replicas > 0:
        notes = [(_REPLICAS_NOTE, str(found.replicas))]
        _call(action, lambda: services.scale(service, 0, notes))
        current = None
    return _wait(action, service, wait_ms, current,
                 lambda seen: _DONE if seen.running_tasks == 0 else _WAITING)


def _start(action, service: str, found: Service, wait_ms: int) -> str:
    current: Optional[Service] = found
    if found.replicas == 0:
        try:
            replicas = max(int(found.note(_REPLICAS_NOTE) or "1"), 1)
        except ValueError:
            replicas = 1
        _call(action, lambda: services.scale(service, replicas, [(_REPLICAS_NOTE, None)]))
        current = None

    def check(seen: Service) -> str:
        wanted = seen.replicas if seen.replicas is not None else seen.desired_tasks
        return _DONE if seen.running_tasks >= wanted >= 1 else _WAITING

    return _wait(action, service, wait_ms, current, check)


_STALLED = {
    UpdateState.PAUSED: "paused",
    UpdateState.ROLLBACK_STARTED: "rollback-started",
    UpdateState.ROLLBACK_PAUSED: "rollback-paused",
    UpdateState.ROLLBACK_COMPLETED: "rollback-completed",
}


def _settled(seen: Service, old=()) -> int:
    return sum(task.state == TaskState.RUNNING and task.desired_state == TaskState.RUNNING
               and task.id not in old for task in seen.tasks)


def _restart(action, service: str, found: Service, wait_ms: int) -> str:
    before = found.version
    old = {task.id for task in found.tasks}
    _call(action, lambda: services.redeploy(service))

    def check(seen: Service) -> str:
        if seen.version <= before:
            return _WAITING
        stalled = _STALLED.get(seen.update_state)
        if stalled is not None:
            raise Failure(f"{action.prefix()}: update {stalled}: {seen.update_message}")
        wanted = seen.desired_tasks
        done = seen.update_state == UpdateState.COMPLETED and _settled(seen) == wanted >= 1
        return _DONE if done else _WAITING

    # Docker replaces one task at a time and watches each for 5 s: out of
    # time, an update still going with new tasks running is under way.
    def under_way(seen: Service) -> bool:
        replaced = _settled(seen, old)
        if seen.version > before and seen.update_state == UpdateState.UPDATING and replaced >= 1:
            log.warn(f"{seen.name}: rolling update still going after {wait_ms} ms, {replaced} of "
                     f"{seen.desired_tasks} tasks replaced; Docker completes it")
            return True
        return False

    return _wait(action, service, wait_ms, None, check, under_way)


def _wait(action, service: str, wait_ms: int, current: Optional[Service],
          check: Callable[[Service], str], late: Callable[[Service], bool] = lambda _: False) -> str:
    from .edgex import SUCCESS, expect_state

    deadline = clock.now_ms() + wait_ms
    poll = _POLL_MS
    while True:
        seen = current if current is not None else _call(action, lambda: services.inspect(service))
        current = None
        if check(seen) == _DONE:
            return SUCCESS
        now = clock.now_ms()
        if now >= deadline:
            break
        try:
            clock.sleep(min(deadline - now, poll))
        except HostError:
            break
        poll = min(poll * 2, _POLL_MAX_MS)
    if late(seen):
        return SUCCESS
    return expect_state(action, not action.should_run())
