"""The records and errors of the WIT package ``sme:policy@0.1.0``, as Python types.

Inside a component the SDK converts the generated bindings' records into
these, so a policy (and its unit tests, run natively against
:mod:`sme_guest.testing`) sees the same types everywhere.

>>> from sme_guest.types import NotFound
>>> error = NotFound("No such container: edgex-x")
>>> (error.kind, error.message)
('not-found', 'No such container: edgex-x')
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import List, Optional, Tuple


@dataclass
class Request:
    """What the runtime was asked to do: ``executor <service> <operation>``."""

    service: str
    operation: str


class Status(enum.Enum):
    """Docker's ``State.Status``."""

    CREATED = 0
    RUNNING = 1
    PAUSED = 2
    RESTARTING = 3
    REMOVING = 4
    EXITED = 5
    DEAD = 6


class Health(enum.Enum):
    """Docker's ``State.Health.Status``; ``NONE`` when the image has no health check."""

    NONE = 0
    STARTING = 1
    HEALTHY = 2
    UNHEALTHY = 3


@dataclass
class Container:
    """What ``docker inspect`` says about one container (the parts policies use)."""

    id: str
    name: str
    image: str
    status: Status
    running: bool
    health: Health
    exit_code: int
    restart_count: int
    created_ms: int
    started_ms: Optional[int]
    finished_ms: Optional[int]
    labels: List[Tuple[str, str]] = field(default_factory=list)

    def label(self, key: str) -> Optional[str]:
        """The value of label ``key``, or None when the container has none."""
        for name, value in self.labels:
            if name == key:
                return value
        return None


@dataclass
class Summary:
    """One row of a container listing."""

    id: str
    name: str
    image: str
    status: Status
    labels: List[Tuple[str, str]] = field(default_factory=list)


@dataclass
class Filter:
    """Which containers to list; every given criterion must match.

    ``name`` is a pattern (``*`` any run, ``?`` one character), ``label`` a
    key with an optional ``=value``, ``all`` includes stopped containers.
    """

    name: Optional[str] = None
    label: Optional[str] = None
    all: bool = False


@dataclass
class CpuReading:
    """The CPU counters of one reading (nanoseconds; ``read_ns`` 0 when not running)."""

    read_ns: int
    total_ns: int
    system_ns: int
    online_cpus: int


@dataclass
class Sample:
    """One reading of a container's cgroup counters."""

    cpu: CpuReading
    memory_usage: int
    memory_limit: int
    total_inactive_file: Optional[int]
    inactive_file: Optional[int]
    network_rx: int
    network_tx: int
    block_read: int
    block_write: int
    pids: int


@dataclass
class Measurement:
    """A current sample and the earlier CPU reading it is measured against."""

    previous: Optional[CpuReading]
    current: Sample


class Source(enum.Enum):
    """Where a measurement's counters came from (:mod:`sme_guest.counters`)."""

    #: The container's cgroup files, read by the runtime.
    CGROUP = 0
    #: The Docker Engine's stats API: the cgroup files cannot be read there.
    ENGINE = 1


@dataclass
class Sourced:
    """A measurement and where it came from; ``network`` is False when the
    network counters could not be read now (they are then 0)."""

    measurement: Measurement
    source: Source
    network: bool


class Mode(enum.Enum):
    """How a Swarm service places its tasks."""

    REPLICATED = 0
    GLOBAL = 1


class TaskState(enum.Enum):
    """Docker's task states (``Status.State``, ``DesiredState``)."""

    NEW = 0
    ALLOCATED = 1
    PENDING = 2
    ASSIGNED = 3
    ACCEPTED = 4
    PREPARING = 5
    READY = 6
    STARTING = 7
    RUNNING = 8
    COMPLETE = 9
    SHUTDOWN = 10
    FAILED = 11
    REJECTED = 12
    REMOVE = 13
    ORPHANED = 14


class UpdateState(enum.Enum):
    """Where a service's rolling update stands; ``NONE`` when it was never updated."""

    NONE = 0
    UPDATING = 1
    PAUSED = 2
    COMPLETED = 3
    ROLLBACK_STARTED = 4
    ROLLBACK_PAUSED = 5
    ROLLBACK_COMPLETED = 6


@dataclass
class Task:
    """One task the Swarm manager keeps for a service (its history included)."""

    id: str
    node_id: str
    slot: Optional[int]
    desired_state: TaskState
    state: TaskState
    message: str
    err: Optional[str]
    container_id: Optional[str]
    exit_code: Optional[int]
    updated_ms: int


#: What a module's notes are kept under: ``services.scale`` stores the note
#: ``key`` as the service label ``sme.note.<key>``.
NOTE_PREFIX = "sme.note."


@dataclass
class Service:
    """What ``docker service inspect`` and ``docker service ps`` say about one
    service (the parts policies use); ``tasks`` newest first."""

    id: str
    name: str
    image: str
    mode: Mode
    replicas: Optional[int]
    desired_tasks: int
    running_tasks: int
    tasks: List[Task]
    update_state: UpdateState
    update_message: str
    labels: List[Tuple[str, str]]
    version: int
    created_ms: int
    updated_ms: int

    def label(self, key: str) -> Optional[str]:
        """The value of label ``key``, or None when the service has none."""
        for name, value in self.labels:
            if name == key:
                return value
        return None

    def note(self, key: str) -> Optional[str]:
        """The note ``key`` a module left with ``services.scale`` (the label ``sme.note.<key>``)."""
        return self.label(NOTE_PREFIX + key)


@dataclass
class ServiceSummary:
    """One row of a service listing."""

    id: str
    name: str
    image: str
    mode: Mode
    replicas: Optional[int]
    labels: List[Tuple[str, str]] = field(default_factory=list)


@dataclass
class ServiceFilter:
    """Which services to list; every given criterion must match (``name`` a
    pattern with ``*`` and ``?``, ``label`` a key with an optional ``=value``)."""

    name: Optional[str] = None
    label: Optional[str] = None


@dataclass
class TaskMeasurement:
    """One running task's container, measured as ``stats.recent`` measures."""

    task_id: str
    container: str
    measurement: Measurement


@dataclass
class Unit:
    """A systemd unit's state, as ``systemctl show`` reports it (the parts policies use)."""

    #: Its name (``Id``).
    name: str
    #: ``LoadState``: ``loaded``, ``not-found``, ``masked``, ``error``...
    load_state: str
    #: ``ActiveState``: ``active``, ``inactive``, ``failed``, ``activating``,
    #: ``deactivating``, ``reloading``.
    active_state: str
    #: ``SubState``: the unit type's own (``running``, ``dead``, ``exited``...).
    sub_state: str
    #: A service's ``Result`` (``success``, ``exit-code``, ``signal``,
    #: ``timeout``...); empty for other unit types.
    result: str
    #: A service's ``MainPID``; 0 when none runs.
    main_pid: int
    #: When the unit last changed state (``StateChangeTimestamp``), in
    #: milliseconds since the Unix epoch; None if it never did.
    since_ms: Optional[int]


@dataclass
class Job:
    """A finished systemd job: systemd's word for it (``done``, ``canceled``,
    ``timeout``, ``failed``, ``dependency``, ``skipped``) and the unit's state
    after. systemd answers ``done`` for a unit that then fails: look at the
    unit too."""

    result: str
    unit: Unit


@dataclass
class UnitStats:
    """A unit's resource counters where systemd accounts them, None where it
    does not (accounting off, a cgroup v1 controller it cannot use)."""

    #: When they were read, in nanoseconds since the Unix epoch.
    read_ns: int
    #: ``CPUUsageNSec``.
    cpu_ns: Optional[int] = None
    #: ``MemoryCurrent``, in bytes.
    memory_bytes: Optional[int] = None
    #: ``TasksCurrent``.
    tasks: Optional[int] = None
    #: ``IOReadBytes``.
    io_read_bytes: Optional[int] = None
    #: ``IOWriteBytes``.
    io_write_bytes: Optional[int] = None
    #: ``IPIngressBytes``.
    ip_ingress_bytes: Optional[int] = None
    #: ``IPEgressBytes``.
    ip_egress_bytes: Optional[int] = None


@dataclass
class CpuTime:
    """A unit's CPU time at one moment (nanoseconds): what CPU % needs of an earlier reading."""

    read_ns: int
    cpu_ns: int


@dataclass
class UnitMeasurement:
    """A unit's counters now, and an earlier CPU time to measure CPU % against
    (None when systemd does not account the unit's CPU time, or its counters
    started again since: a restart). :mod:`sme_guest.systemd` calls it
    ``Measurement``."""

    now: UnitStats
    previous: Optional[CpuTime]


@dataclass
class Refusal:
    """systemd refused or failed a request, in its own words."""

    #: The D-Bus error name (``org.freedesktop.systemd1.UnitMasked``).
    name: str
    #: systemd's message (``Unit x.service is masked.``).
    message: str


class Level(enum.Enum):
    """A log message's level."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


class HostError(Exception):
    """Why a host call did not do what the policy asked (the WIT ``error`` variant).

    Catch one kind (``except NotFound``) or all (``except HostError``); an
    uncaught one ends the policy with its message as the failure text, as
    Rust's ``?`` does.
    """

    #: The WIT case name.
    kind = ""

    def __init__(self, message: str):
        super().__init__(message)
        #: The host's explanation, without the kind.
        self.message = message

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.message == other.message  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.kind, self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class Denied(HostError):
    """The module's grant does not cover this verb on this container."""

    kind = "denied"


class NotFound(HostError):
    """No container has this name; the text is the daemon's ``No such container: <name>``."""

    kind = "not-found"


class Timeout(HostError):
    """The call did not finish in its time budget, or no Docker Engine answered."""

    kind = "timeout"


class LimitExceeded(HostError):
    """The request asks for more than the module's limits allow."""

    kind = "limit-exceeded"


class InvalidArgument(HostError):
    """An argument is malformed (for example an invalid container name)."""

    kind = "invalid-argument"


class Docker(HostError):
    """The Docker Engine refused or failed the request; the text is its own message."""

    kind = "docker"


class UnitError(HostError):
    """Why a :mod:`sme_guest.systemd` call failed (the WIT ``systemd.error``
    variant): one of :class:`UnitDenied`, :class:`UnitNotFound`,
    :class:`UnitTimeout`, :class:`UnitLimitExceeded`,
    :class:`UnitInvalidArgument`, :class:`Refused` or :class:`Unreachable`.

    The first five are also the :class:`HostError` of the same kind, so
    ``except Denied`` catches a denied unit call too; ``except UnitError``
    catches only systemd's.

    >>> error = Refused(Refusal("org.freedesktop.systemd1.UnitMasked", "Unit x.service is masked."))
    >>> (error.kind, error.message)
    ('refused', 'org.freedesktop.systemd1.UnitMasked: Unit x.service is masked.')
    >>> isinstance(UnitDenied("module m may not stop x.service"), Denied)
    True
    """


class UnitDenied(UnitError, Denied):
    """The module's grant does not cover this verb on this unit."""


class UnitNotFound(UnitError, NotFound):
    """systemd knows no unit of this name (``Unit <name> not found.``)."""


class UnitTimeout(UnitError, Timeout):
    """The call did not finish in its time budget."""


class UnitLimitExceeded(UnitError, LimitExceeded):
    """The request asks for more than the module's limits allow."""


class UnitInvalidArgument(UnitError, InvalidArgument):
    """An argument is malformed (an invalid unit name or pattern)."""


class Refused(UnitError):
    """systemd refused or failed the request (``UnitMasked``,
    ``OnlyByDependency``, ``AccessDenied``...); :attr:`refusal` holds its D-Bus
    error name and message, and the text is ``<name>: <message>``."""

    kind = "refused"

    def __init__(self, refusal: Refusal):
        super().__init__(f"{refusal.name}: {refusal.message}")
        #: systemd's words.
        self.refusal = refusal

    def __repr__(self) -> str:
        return f"Refused({self.refusal!r})"


class Unreachable(UnitError):
    """No systemd answered on the configured bus; the text says why."""

    kind = "unreachable"


class Failure(Exception):
    """Ends an operation or metrics policy with ``text`` printed and exit 1.

    A refusal is data, not a crash: raise this (or return a string for
    success) from a policy function.

    >>> Failure("Error stopping service: edgex-redis is protected").text
    'Error stopping service: edgex-redis is protected'
    """

    def __init__(self, text: str):
        super().__init__(text)
        #: What is printed.
        self.text = text


# Metric values: the WIT `metric-value` variant.


@dataclass
class Number:
    """A JSON number, written as Go's encoding/json writes a float64."""

    value: float


@dataclass
class Integer:
    """A JSON integer."""

    value: int


@dataclass
class Text:
    """A JSON string."""

    value: str


@dataclass
class Boolean:
    """A JSON boolean."""

    value: bool


@dataclass
class Json:
    """Any JSON value, as text; the runtime checks it is valid JSON."""

    value: str


@dataclass
class Metric:
    """One top-level field of the metrics object the executor prints.

    ``value`` is one of :class:`Number`, :class:`Integer`, :class:`Text`,
    :class:`Boolean`, :class:`Json`; a plain ``bool``, ``int``, ``float`` or
    ``str`` is taken as the matching one.

    >>> Metric("restartCount", 3).value
    Integer(value=3)
    """

    name: str
    value: object

    def __post_init__(self) -> None:
        self.value = metric_value(self.value)


def metric_value(value: object) -> object:
    """The metric value for ``value``: plain Python values become their WIT case."""
    if isinstance(value, (Number, Integer, Text, Boolean, Json)):
        return value
    if isinstance(value, bool):
        return Boolean(value)
    if isinstance(value, int):
        return Integer(value)
    if isinstance(value, float):
        return Number(value)
    if isinstance(value, str):
        return Text(value)
    raise TypeError(f"a metric value must be a number, text or boolean, not {type(value).__name__}")
