"""systemd units, over systemd's D-Bus API: native installs
(``edgex-core-data.service``) and snap services
(``snap.edgexfoundry.core-data.service``). Every call names its unit exactly
(``<name>.<type>``, no instance ``@``, no escapes) and is checked against the
module's grant with the targets containers have (``self`` is the unit the
request maps to, ``label:`` matches no unit); ``inspect``, ``list``,
``start``, ``stop``, ``restart`` and ``stats`` use the verbs of those names,
``kill`` uses ``stop``.

:func:`target` says whether the request is about a unit at all (the
operator's ``[systemd]`` configuration); it is None for a container or a
Swarm service. A call's failure is a :class:`UnitError`: systemd's own
refusal is :class:`Refused`, whose text is ``<D-Bus error name>: <message>``.

>>> from sme_guest import systemd, testing
>>> unit = "snap.edgexfoundry.core-data.service"
>>> testing.Scene().unit(testing.unit(unit)).systemd_target(unit).install()
>>> job = systemd.stop(systemd.target(), kill_after_ms=10_000)
>>> (job.result, job.unit.active_state, job.unit.sub_state)
('done', 'inactive', 'dead')
>>> systemd.start(unit).unit.active_state
'active'
>>> testing.calls()
['stop snap.edgexfoundry.core-data.service', 'start snap.edgexfoundry.core-data.service']
"""

from __future__ import annotations

from typing import List, Optional

from ._host import backend
from .types import CpuTime, Job, Refusal, Refused, Unit, UnitDenied, UnitError, UnitInvalidArgument
from .types import UnitLimitExceeded, UnitNotFound, UnitStats, UnitTimeout, Unreachable
from .types import UnitMeasurement as Measurement

__all__ = ["CpuTime", "Job", "Measurement", "Refusal", "Refused", "Unit", "UnitDenied", "UnitError",
           "UnitInvalidArgument", "UnitLimitExceeded", "UnitNotFound", "UnitStats", "UnitTimeout", "Unreachable",
           "target", "inspect", "list", "start", "stop", "restart", "kill", "stats"]


def target() -> Optional[str]:
    """The unit this run is for, when the operator configured SME for systemd
    (``[systemd]``): the agent's service name mapped to a unit name. None when
    the request is for a container or a Swarm service."""
    return backend().unit_target()


def inspect(name: str) -> Unit:
    """The unit's state; a unit systemd does not know raises
    :class:`UnitNotFound` (``Unit <name> not found.``)."""
    return backend().unit(name)


def list(pattern: str) -> List[Unit]:  # noqa: A001 - the WIT function's name
    """The units systemd holds whose names match ``pattern`` (``*`` any run of
    characters, ``?`` one), by name; only those the module may ``list`` are
    returned. systemd does not hold an inactive unit nothing needs."""
    return backend().units(pattern)


def start(name: str) -> Job:
    """Starts the unit and waits for systemd's job. systemd answers ``done``
    for a unit that then fails: look at ``job.unit`` too."""
    return backend().unit_job("start", name, None)


def stop(name: str, kill_after_ms: Optional[int] = None) -> Job:
    """Stops the unit and waits for systemd's job. systemd waits up to the
    unit's ``TimeoutStopSec`` (90 s by default) before its SIGKILL; with
    ``kill_after_ms``, the runtime asks systemd to SIGKILL the unit's processes
    once the job has run that long, and the job then ends."""
    return backend().unit_job("stop", name, kill_after_ms)


def restart(name: str, kill_after_ms: Optional[int] = None) -> Job:
    """Restarts the unit and waits for systemd's job; ``kill_after_ms`` bounds
    its stopping half as for :func:`stop`."""
    return backend().unit_job("restart", name, kill_after_ms)


def kill(name: str, signal: int) -> None:
    """Sends ``signal`` (1 to 64) to every process of the unit (``KillUnit``,
    ``all``). Checked under the ``stop`` verb."""
    backend().unit_kill(name, signal)


def stats(name: str, max_age_ms: int, window_ms: int) -> Measurement:
    """The unit's counters now, measured against an earlier CPU time: one kept
    by an earlier run at most ``max_age_ms`` old (capped at two minutes), else
    a second read ``window_ms`` after a first (100 to 1000 ms)."""
    return backend().unit_stats(name, max_age_ms, window_ms)
