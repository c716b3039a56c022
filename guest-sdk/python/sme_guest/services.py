"""Docker Swarm services: inspection, scaling, redeployment and the figures
of their tasks. Every call names its service exactly and is checked against
the module's grant with the same targets as containers; ``inspect``,
``list_services`` and ``task_stats`` use the ``inspect``, ``list`` and
``stats`` verbs, ``scale`` and ``redeploy`` verbs of their own.

:func:`target` says whether the request is about a service at all (the
operator's ``[swarm]`` configuration); it is None for a container.

>>> from sme_guest import services, testing
>>> testing.Scene().service("edgex-core-data", replicas=2).swarm_target("edgex-core-data").install()
>>> name = services.target()
>>> services.inspect(name).running_tasks
2
>>> services.scale(name, 0, [("replicas", "2")])
>>> services.inspect(name).note("replicas")
'2'
>>> testing.calls()
['inspect edgex-core-data', 'scale edgex-core-data', 'inspect edgex-core-data']
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ._host import backend
from .types import NOTE_PREFIX, Mode, Service, Task, TaskMeasurement, TaskState, UpdateState
from .types import ServiceFilter as Filter
from .types import ServiceSummary as Summary

__all__ = ["Filter", "Mode", "NOTE_PREFIX", "Service", "Summary", "Task", "TaskMeasurement", "TaskState",
           "UpdateState", "target", "inspect", "list_services", "scale", "redeploy", "task_stats"]


def target() -> Optional[str]:
    """The Swarm service this run is for, when the operator configured SME for a
    swarm: the agent's service name mapped to a service name. None when the
    request is for a container."""
    return backend().swarm_target()


def inspect(name: str) -> Service:
    """Inspects one service and every task the manager keeps for it, newest
    first; a missing one raises :class:`~sme_guest.types.NotFound`
    (``service <name> not found``)."""
    return backend().service(name)


def list_services(filter: Optional[Filter] = None) -> List[Summary]:
    """Lists services; only those the module may ``list`` are returned."""
    return backend().services(filter or Filter())


def scale(name: str, replicas: int, notes: Sequence[Tuple[str, Optional[str]]] = ()) -> None:
    """Sets a replicated service's replica count and, in the same update, the
    module's notes on it (each kept as the label ``sme.note.<key>``; a None value
    removes it). Scaling a global service raises
    :class:`~sme_guest.types.InvalidArgument`."""
    backend().scale(name, replicas, list(notes))


def redeploy(name: str) -> None:
    """Forces a rolling update that replaces every task (``docker service update
    --force``); it returns once the update is accepted, not done."""
    backend().redeploy(name)


def task_stats(name: str, max_age_ms: int) -> List[TaskMeasurement]:
    """Measures the containers of the service's running tasks that this daemon
    runs, each against a kept CPU reading at most ``max_age_ms`` old."""
    return backend().task_stats(name, max_age_ms)
