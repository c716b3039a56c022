"""What the EdgeX reference Docker executor does, as building blocks.

The default policies are one call each into this module; example policies
add their own checks before or after the same calls. Texts and formats are
the reference executor's (and the Rust SDK's ``sme_guest::edgex``), byte for
byte, so the agent sees exactly what it used to see.

Functions that print return the success text and raise
:class:`~sme_guest.types.Failure` with the failure text, so a policy returns
or lets them propagate:

>>> from sme_guest import testing
>>> testing.Scene().install()
>>> try:
...     lifecycle(Lifecycle.STOP, "edgex-x")
... except Failure as failure:
...     print(repr(failure.text))
'exit status 1: Error response from daemon: No such container: edgex-x\\n'
"""

from __future__ import annotations

import enum
from typing import List

from . import container_config, containers, counters, cpu_window, log, services, stats, systemd
from .figures import Figures, json_string
from .swarm import DEFAULT_SWARM_WAIT_MS, service_lifecycle, service_metrics
from .types import Docker, Failure, HostError, Integer, Job, Measurement, Metric, NotFound, Number, Json

#: What the reference executor prints when an operation succeeds: the JSON
#: encoding of an empty string.
SUCCESS = '""'

#: The longest grace period, in seconds, a stop or restart asks Docker for
#: (the default of the default policies' ``grace_cap_s`` setting): grace + 2 s
#: must fit the 12 s Docker call budget inside the agent's 20 s, and 10 s is
#: Docker's own default. See the Rust SDK's ``DEFAULT_GRACE_CAP``.
DEFAULT_GRACE_CAP = 10

#: How long after a first read of a unit's CPU time the second is taken when
#: no kept reading serves, in milliseconds: the default metrics policy's
#: ``cpu_sample_ms`` default, used by :func:`metrics` and
#: :func:`metrics_within` for a unit.
DEFAULT_CPU_SAMPLE_MS = 250

#: The ``ActiveState`` values in which a unit counts as running.
UNIT_RUNNING_STATES = ("active", "activating", "deactivating", "reloading")
#: The ``ActiveState`` values in which a started unit counts as started.
UNIT_STARTED_STATES = ("active", "reloading")

#: Go's text for a command that exited with status 1, which the reference put
#: before the command's output. The docker CLI exits 1 on every error.
EXIT_STATUS_1 = "exit status 1: "


class Lifecycle(enum.Enum):
    """A lifecycle operation of the reference executor."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"

    def prefix(self) -> str:
        """The prefix of the reference executor's error texts for this operation.

        >>> Lifecycle.RESTART.prefix()
        'Error restarting service'
        """
        return {
            Lifecycle.START: "Error starting service",
            Lifecycle.STOP: "Error stopping service",
            Lifecycle.RESTART: "Error restarting service",
        }[self]

    def should_run(self) -> bool:
        """Whether the container must be running once the operation is done."""
        return self is not Lifecycle.STOP

    def perform(self, service: str) -> None:
        """Asks the host to perform the operation, the container's own grace period
        shortened to :data:`DEFAULT_GRACE_CAP` when longer. Raises the host's error."""
        self.perform_within(service, DEFAULT_GRACE_CAP)

    def perform_within(self, service: str, cap_seconds: int) -> None:
        """Asks the host to perform the operation. A stop or restart gives the
        container its own grace period (Docker's ``StopTimeout``, 10 s when unset)
        but at most ``cap_seconds``; a shortened grace period is logged."""
        if self is Lifecycle.START:
            containers.start(service)
            return
        own = container_config.stop_timeout(service)
        if own is None:
            own = container_config.DOCKER_DEFAULT_STOP_TIMEOUT
        timeout = min(own, cap_seconds)
        if timeout < own:
            log.warn(
                f"{service}: grace period shortened from {own} s to {timeout} s so the "
                f"{self.value} answers within the agent's 20 s (setting grace_cap_s)"
            )
        if self is Lifecycle.STOP:
            containers.stop(service, timeout)
        else:
            containers.restart(service, timeout)


def lifecycle(action: Lifecycle, service: str) -> str:
    """Performs ``action`` on the service's container and checks its state,
    exactly as the reference executor does: the whole default policy for
    ``start``, ``stop`` and ``restart``. Returns :data:`SUCCESS` or raises
    :class:`Failure` with the reference's text."""
    return lifecycle_within(action, service, DEFAULT_GRACE_CAP)


def lifecycle_within(action: Lifecycle, service: str, cap_seconds: int,
                     swarm_wait_ms: int = DEFAULT_SWARM_WAIT_MS) -> str:
    """:func:`lifecycle`, with at most ``cap_seconds`` of grace period for a stop
    or restart (see :meth:`Lifecycle.perform_within`). It asks
    :func:`sme_guest.systemd.target` first: when the request is about a systemd
    unit, the operation is :func:`unit_lifecycle` on it, with ``cap_seconds``
    as its bound. It then asks :func:`sme_guest.services.target`: when the
    request is about a Swarm service, the operation is
    :func:`sme_guest.swarm.service_lifecycle` on it, waiting at most
    ``swarm_wait_ms``; otherwise the container's, exactly the reference's. A
    failure to tell is ``<prefix>: <message>``."""
    try:
        unit = systemd.target()
    except HostError as error:
        raise Failure(f"{action.prefix()}: {error.message}") from None
    if unit is not None:
        return unit_lifecycle(action, unit, cap_seconds)
    try:
        target = services.target()
    except HostError as error:
        raise Failure(f"{action.prefix()}: {error.message}") from None
    if target is not None:
        return service_lifecycle(action, target, swarm_wait_ms)
    try:
        action.perform_within(service, cap_seconds)
    except HostError as error:
        raise Failure(failure(action, service, error)) from None
    return verify(action, service)


def unit_lifecycle(action: Lifecycle, unit: str, grace_cap_s: int) -> str:
    """Performs ``action`` on the systemd unit ``unit`` and checks the state
    systemd's job left it in (:func:`expect_unit_state`): a start is
    ``systemd.start``; a stop or restart lets the unit's own stop run at most
    ``grace_cap_s`` seconds before its processes are SIGKILLed. A failed call
    is ``<prefix>: <message>`` (systemd's refusal as
    ``<D-Bus error name>: <its message>``).

    >>> from sme_guest import testing
    >>> testing.Scene().unit(testing.unit("x.service").masked()).install()
    >>> unit_lifecycle(Lifecycle.START, "x.service", 10)
    Traceback (most recent call last):
    ...
    sme_guest.types.Failure: Error starting service: org.freedesktop.systemd1.UnitMasked: Unit x.service is masked.
    """
    kill_after_ms = grace_cap_s * 1000
    try:
        if action is Lifecycle.START:
            job = systemd.start(unit)
        elif action is Lifecycle.STOP:
            job = systemd.stop(unit, kill_after_ms)
        else:
            job = systemd.restart(unit, kill_after_ms)
    except HostError as error:
        raise Failure(f"{action.prefix()}: {error.message}") from None
    return expect_unit_state(action, job)


def expect_unit_state(action: Lifecycle, job: Job) -> str:
    """The verdict on the state a unit's job left it in: a started unit must be
    ``active`` or ``reloading``, a stopped one none of
    :data:`UNIT_RUNNING_STATES`; the texts are the reference's, with what
    systemd said in parentheses.

    >>> from sme_guest.types import Unit
    >>> failed = Unit("x.service", "loaded", "failed", "failed", "exit-code", 0, None)
    >>> expect_unit_state(Lifecycle.START, Job("failed", failed))
    Traceback (most recent call last):
    ...
    sme_guest.types.Failure: Error starting service: service is not running but should be (unit x.service is failed/failed, result exit-code, job failed)
    """
    unit = job.unit
    said = (f"(unit {unit.name} is {unit.active_state}/{unit.sub_state}, result {unit.result}, "
            f"job {job.result})")
    if action.should_run() and unit.active_state not in UNIT_STARTED_STATES:
        raise Failure(f"{action.prefix()}: service is not running but should be {said}")
    if not action.should_run() and unit.active_state in UNIT_RUNNING_STATES:
        raise Failure(f"{action.prefix()}: service is running but shouldn't be {said}")
    return SUCCESS


def failure(action: Lifecycle, service: str, error: HostError) -> str:
    """The reference executor's text for a failed operation.

    A refusal by the Docker Engine (:class:`NotFound` or :class:`Docker`) is
    printed as the reference printed the CLI's failure (:func:`cli_failure`);
    anything the reference could not have answered (a denial, a timeout, an
    unreachable daemon) is ``<prefix>: <SME's message>``.

    >>> failure(Lifecycle.START, "edgex-x", NotFound("No such container: edgex-x"))
    'exit status 1: Error response from daemon: No such container: edgex-x\\nError: failed to start containers: edgex-x\\n'
    """
    if isinstance(error, (NotFound, Docker)):
        return cli_failure(action, service, error.message)
    return f"{action.prefix()}: {error.message}"


def cli_failure(action: Lifecycle, service: str, message: str) -> str:
    """What the reference printed when the docker CLI's ``start``, ``stop`` or
    ``restart`` failed on the daemon's ``message``: Go's ``exit status 1: ``,
    the CLI's ``Error response from daemon: <message>`` line and, for
    ``start``, ``Error: failed to start containers: <name>``; every line ends
    with a newline."""
    text = EXIT_STATUS_1 + daemon_error(message)
    if action is Lifecycle.START:
        text += f"Error: failed to start containers: {service}\n"
    return text


def daemon_error(message: str) -> str:
    """The docker CLI's line for an error the daemon answered with ``message``."""
    return f"Error response from daemon: {message}\n"


def verify(action: Lifecycle, service: str) -> str:
    """Inspects the container after ``action`` and checks it is (or is not)
    running, with the reference's texts. A container gone by then is what the
    reference's ``docker inspect`` answered:
    ``<prefix>: exit status 1: []\\nError: No such object: <name>\\n``."""
    prefix = action.prefix()
    try:
        container = containers.inspect(service)
    except NotFound:
        raise Failure(f"{prefix}: {EXIT_STATUS_1}[]\nError: No such object: {service}\n") from None
    except HostError as error:
        raise Failure(f"{prefix}: {error.message}") from None
    return expect_state(action, container.running)


def expect_state(action: Lifecycle, running: bool) -> str:
    """The reference executor's verdict on the state a container was left in.

    >>> expect_state(Lifecycle.STOP, False)
    '""'
    >>> expect_state(Lifecycle.STOP, True)
    Traceback (most recent call last):
    ...
    sme_guest.types.Failure: Error stopping service: service is running but shouldn't be
    """
    prefix = action.prefix()
    if not running and action.should_run():
        raise Failure(f"{prefix}: service is not running but should be")
    if running and not action.should_run():
        raise Failure(f"{prefix}: service is running but shouldn't be")
    return SUCCESS


def not_found(service: str) -> str:
    """The reference executor's inspection text when no container matched its name."""
    return f"container {service} not found"


def metrics(service: str) -> List[Metric]:
    """The reference executor's metrics: ``cpuUsedPercent``, ``memoryUsed`` and
    ``raw``, measured with the host's fast path (:func:`sme_guest.stats.recent`).
    A daemon's refusal raises :class:`Failure` with
    ``exit status 1: Error response from daemon: <message>\\n``.

    A systemd unit (:func:`sme_guest.systemd.target`) is measured with
    :func:`unit_metrics` (window :data:`RECENT_WINDOW_MS`, sample
    :data:`DEFAULT_CPU_SAMPLE_MS`), a Swarm service's tasks with
    :func:`sme_guest.swarm.service_metrics`."""
    unit = _unit_target()
    if unit is not None:
        return unit_metrics(unit, RECENT_WINDOW_MS, DEFAULT_CPU_SAMPLE_MS)
    target = _target()
    if target is not None:
        return service_metrics(target, RECENT_WINDOW_MS)
    return _metrics_from(lambda: stats.recent(service))


def metrics_within(service: str, window_ms: int) -> List[Metric]:
    """:func:`metrics`, measuring CPU against a kept reading at most ``window_ms``
    old; a systemd unit (:func:`unit_metrics`, sampled
    :data:`DEFAULT_CPU_SAMPLE_MS` apart when nothing kept serves) or a Swarm
    service's tasks (:func:`sme_guest.swarm.service_metrics`) with the same
    window."""
    unit = _unit_target()
    if unit is not None:
        return unit_metrics(unit, window_ms, DEFAULT_CPU_SAMPLE_MS)
    target = _target()
    if target is not None:
        return service_metrics(target, window_ms)
    return _metrics_from(lambda: cpu_window.recent_within(service, window_ms))


def metrics_counted(service: str, window_ms: int, sample_ms: int) -> List[Metric]:
    """:func:`metrics_within`, from the container's cgroup counters where the
    runtime can read them (:func:`sme_guest.counters.measure`): against a kept
    reading at most ``window_ms`` old, else two reads ``sample_ms`` apart. Where
    the files cannot be read, exactly :func:`metrics_within`. A systemd unit is
    :func:`unit_metrics` with the same window and sample."""
    unit = _unit_target()
    if unit is not None:
        return unit_metrics(unit, window_ms, sample_ms)
    target = _target()
    if target is not None:
        return service_metrics(target, window_ms)
    return _metrics_from(lambda: counters.measure(service, window_ms, sample_ms).measurement)


#: The CPU window ``stats.recent`` uses, for a service's tasks measured by :func:`metrics`.
RECENT_WINDOW_MS = 5_000


def unit_metrics(unit: str, window_ms: int, sample_ms: int) -> List[Metric]:
    """The reference executor's three fields for the systemd unit ``unit``
    (:meth:`Figures.of_unit <sme_guest.figures.Figures.of_unit>`): its counters
    measured against a CPU time kept at most ``window_ms`` old, else two reads
    ``sample_ms`` apart (:func:`sme_guest.systemd.stats`). A failed call raises
    :class:`Failure` with its message."""
    try:
        measurement = systemd.stats(unit, window_ms, sample_ms)
    except HostError as error:
        raise Failure(error.message) from None
    return metric_fields(Figures.of_unit(measurement))


def _unit_target():
    try:
        return systemd.target()
    except HostError as error:
        raise Failure(error.message) from None


def _target():
    try:
        return services.target()
    except HostError as error:
        raise Failure(error.message) from None


def _metrics_from(measure) -> List[Metric]:
    try:
        measurement: Measurement = measure()
    except (NotFound, Docker) as error:
        raise Failure(EXIT_STATUS_1 + daemon_error(error.message)) from None
    except HostError as error:
        raise Failure(error.message) from None
    return metric_fields(Figures.of(measurement))


def metric_fields(figures: Figures) -> List[Metric]:
    """The reference executor's three fields for these figures; the two numbers
    are read back from the formatted ``raw`` strings, so they carry the same
    rounding."""
    raw = figures.raw()
    memory = raw.mem_usage.split(" ")[0]
    return [
        Metric("cpuUsedPercent", Number(percent_value(raw.cpu_perc))),
        Metric("memoryUsed", Integer(memory_bytes(memory))),
        Metric("raw", Json(raw.to_json())),
    ]


def percent_value(text: str) -> float:
    """The number at the start of a ``docker stats`` percentage, or -1.

    >>> percent_value("5.08%"), percent_value("--")
    (5.08, -1.0)
    """
    number = _leading_number(text)
    return -1.0 if number is None else number[0]


def memory_bytes(text: str) -> int:
    """Bytes in a ``docker stats`` memory figure (KiB, MiB and GiB being powers
    of 1024), rounded to the nearest byte; -1 when there is no number followed
    by a unit. Like the reference, other units are not scaled.

    >>> memory_bytes("5.234MiB"), memory_bytes("512B"), memory_bytes("12")
    (5488247, 512, -1)
    """
    number = _leading_number(text)
    if number is None:
        return -1
    value, unit = number
    if unit == "":
        return -1
    scale = {"KiB": 1024.0, "MiB": 1024.0 * 1024.0, "GiB": 1024.0 * 1024.0 * 1024.0}.get(unit, 1.0)
    result = value * scale + 0.5
    if result != result:  # NaN: Rust's `as i64` gives 0
        return 0
    return int(max(min(result, 2.0**63 - 1), -(2.0**63)))


def _leading_number(text: str):
    end = 0
    while end < len(text) and (text[end].isascii() and (text[end].isdigit() or text[end] in ".-+")):
        end += 1
    try:
        return float(text[:end]), text[end:]
    except ValueError:
        return None


def json_quote(text: str) -> str:
    """``text`` quoted as a JSON string, for ``Json`` metric values built by hand."""
    return json_string(text)
