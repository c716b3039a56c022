"""Container lifecycle and inspection. Every call names its container exactly
and is checked against the module's grant; a call outside it raises
:class:`~sme_guest.types.Denied` and changes nothing.

>>> from sme_guest import containers, testing
>>> from sme_guest.types import Health
>>> testing.Scene().container("edgex-core-data", health=Health.UNHEALTHY).install()
>>> if containers.inspect("edgex-core-data").health == Health.UNHEALTHY:
...     containers.restart("edgex-core-data", 5)
>>> testing.calls()
['inspect edgex-core-data', 'restart edgex-core-data']
"""

from __future__ import annotations

from typing import List, Optional

from ._host import backend
from .types import Container, Filter, Health, Status, Summary

__all__ = ["Container", "Filter", "Health", "Status", "Summary", "inspect", "list_containers",
           "start", "stop", "restart", "pause", "unpause"]


def inspect(name: str) -> Container:
    """Inspects one container."""
    return backend().inspect(name)


def list_containers(filter: Optional[Filter] = None) -> List[Summary]:
    """Lists containers; only those the module may ``list`` are returned."""
    return backend().list(filter or Filter())


def start(name: str) -> None:
    """Starts a container; starting a running container succeeds."""
    backend().lifecycle("start", name, None)


def stop(name: str, timeout_seconds: Optional[int] = None) -> None:
    """Stops a container, killing it after ``timeout_seconds`` (the container's
    own stop timeout when None). Stopping a stopped container succeeds."""
    backend().lifecycle("stop", name, timeout_seconds)


def restart(name: str, timeout_seconds: Optional[int] = None) -> None:
    """Restarts a container, with the same timeout rule as :func:`stop`."""
    backend().lifecycle("restart", name, timeout_seconds)


def pause(name: str) -> None:
    """Freezes every process of a running container."""
    backend().lifecycle("pause", name, None)


def unpause(name: str) -> None:
    """Thaws a paused container."""
    backend().lifecycle("unpause", name, None)
