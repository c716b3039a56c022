"""Answers host calls: the component's imports inside a component, the
test thread's fake (:mod:`sme_guest.testing`) everywhere else, so a policy's
unit tests run with plain CPython.

Every call goes through :func:`backend`; the component backend converts the
generated bindings' records and errors into :mod:`sme_guest.types`.
"""

from __future__ import annotations

from typing import Optional

from . import types as t

try:  # Present only in a component built by componentize-py.
    from componentize_py_types import Err as _Err
    from wit_world.imports import clock as _clock
    from wit_world.imports import container_config as _container_config
    from wit_world.imports import counters as _counters
    from wit_world.imports import containers as _containers
    from wit_world.imports import cpu_window as _cpu_window
    from wit_world.imports import log as _log
    from wit_world.imports import services as _services
    from wit_world.imports import settings as _settings
    from wit_world.imports import state as _state
    from wit_world.imports import stats as _stats
    from wit_world.imports import systemd as _systemd

    IN_COMPONENT = True
except ImportError:
    IN_COMPONENT = False

_ERRORS = {
    "Error_Denied": t.Denied,
    "Error_NotFound": t.NotFound,
    "Error_Timeout": t.Timeout,
    "Error_LimitExceeded": t.LimitExceeded,
    "Error_InvalidArgument": t.InvalidArgument,
    "Error_Docker": t.Docker,
}


def _error(err: Exception) -> t.HostError:
    value = err.value  # type: ignore[attr-defined]
    return _ERRORS[type(value).__name__](value.value)


# The systemd interface has its own error variant: the same case names,
# plus systemd's refusal and an unreachable bus.
_UNIT_ERRORS = {
    "Error_Denied": t.UnitDenied,
    "Error_NotFound": t.UnitNotFound,
    "Error_Timeout": t.UnitTimeout,
    "Error_LimitExceeded": t.UnitLimitExceeded,
    "Error_InvalidArgument": t.UnitInvalidArgument,
    "Error_Unreachable": t.Unreachable,
}


def _unit_error(err: Exception) -> t.UnitError:
    value = err.value  # type: ignore[attr-defined]
    if type(value).__name__ == "Error_Refused":
        return t.Refused(t.Refusal(value.value.name, value.value.message))
    return _UNIT_ERRORS[type(value).__name__](value.value)


def _unit(u) -> t.Unit:
    return t.Unit(u.name, u.load_state, u.active_state, u.sub_state, u.result, u.main_pid, u.since_ms)


def _unit_measurement(m) -> t.UnitMeasurement:
    n = m.now
    now = t.UnitStats(n.read_ns, n.cpu_ns, n.memory_bytes, n.tasks, n.io_read_bytes, n.io_write_bytes,
                      n.ip_ingress_bytes, n.ip_egress_bytes)
    previous = None if m.previous is None else t.CpuTime(m.previous.read_ns, m.previous.cpu_ns)
    return t.UnitMeasurement(now, previous)


def _container(c) -> t.Container:
    return t.Container(
        c.id,
        c.name,
        c.image,
        t.Status(c.status.value),
        c.running,
        t.Health(c.health.value),
        c.exit_code,
        c.restart_count,
        c.created_ms,
        c.started_ms,
        c.finished_ms,
        list(c.labels),
    )


def _reading(r) -> t.CpuReading:
    return t.CpuReading(r.read_ns, r.total_ns, r.system_ns, r.online_cpus)


def _sample(s) -> t.Sample:
    return t.Sample(
        _reading(s.cpu),
        s.memory_usage,
        s.memory_limit,
        s.total_inactive_file,
        s.inactive_file,
        s.network_rx,
        s.network_tx,
        s.block_read,
        s.block_write,
        s.pids,
    )


def _measurement(m) -> t.Measurement:
    return t.Measurement(None if m.previous is None else _reading(m.previous), _sample(m.current))


def _task(k) -> t.Task:
    return t.Task(
        k.id,
        k.node_id,
        k.slot,
        t.TaskState(k.desired_state.value),
        t.TaskState(k.state.value),
        k.message,
        k.err,
        k.container_id,
        k.exit_code,
        k.updated_ms,
    )


def _service(s) -> t.Service:
    return t.Service(
        s.id,
        s.name,
        s.image,
        t.Mode(s.mode.value),
        s.replicas,
        s.desired_tasks,
        s.running_tasks,
        [_task(k) for k in s.tasks],
        t.UpdateState(s.update_state.value),
        s.update_message,
        list(s.labels),
        s.version,
        s.created_ms,
        s.updated_ms,
    )


class _Component:
    """The component's imports, with SDK types in and out."""

    def inspect(self, name: str) -> t.Container:
        try:
            return _container(_containers.inspect(name))
        except _Err as err:
            raise _error(err) from None

    def list(self, f: t.Filter) -> list:
        try:
            rows = _containers.list(_containers.Filter(f.name, f.label, f.all))
        except _Err as err:
            raise _error(err) from None
        return [t.Summary(r.id, r.name, r.image, t.Status(r.status.value), list(r.labels)) for r in rows]

    def lifecycle(self, verb: str, name: str, timeout: Optional[int]) -> None:
        try:
            if verb == "stop":
                _containers.stop(name, timeout)
            elif verb == "restart":
                _containers.restart(name, timeout)
            else:
                getattr(_containers, verb)(name)
        except _Err as err:
            raise _error(err) from None

    def stop_timeout(self, name: str) -> Optional[int]:
        try:
            return _container_config.stop_timeout(name)
        except _Err as err:
            raise _error(err) from None

    def one_shot(self, name: str) -> t.Sample:
        try:
            return _sample(_stats.one_shot(name))
        except _Err as err:
            raise _error(err) from None

    def measure(self, name: str, how: str, max_age_ms: int = 0) -> t.Measurement:
        try:
            if how == "measure":
                return _measurement(_stats.measure(name))
            if how == "recent":
                return _measurement(_stats.recent(name))
            return _measurement(_cpu_window.recent_within(name, max_age_ms))
        except _Err as err:
            raise _error(err) from None

    def counted(self, name: str, max_age_ms: int, window_ms: int) -> t.Sourced:
        try:
            sourced = _counters.measure(name, max_age_ms, window_ms)
        except _Err as err:
            raise _error(err) from None
        return t.Sourced(_measurement(sourced.measurement), t.Source(sourced.source.value), sourced.network)

    def swarm_target(self) -> Optional[str]:
        try:
            return _services.target()
        except _Err as err:
            raise _error(err) from None

    def service(self, name: str) -> t.Service:
        try:
            return _service(_services.inspect(name))
        except _Err as err:
            raise _error(err) from None

    def services(self, f: t.ServiceFilter) -> list:
        try:
            rows = _services.list(_services.Filter(f.name, f.label))
        except _Err as err:
            raise _error(err) from None
        return [t.ServiceSummary(r.id, r.name, r.image, t.Mode(r.mode.value), r.replicas, list(r.labels))
                for r in rows]

    def scale(self, name: str, replicas: int, notes: list) -> None:
        try:
            _services.scale(name, replicas, list(notes))
        except _Err as err:
            raise _error(err) from None

    def redeploy(self, name: str) -> None:
        try:
            _services.redeploy(name)
        except _Err as err:
            raise _error(err) from None

    def task_stats(self, name: str, max_age_ms: int) -> list:
        try:
            rows = _services.task_stats(name, max_age_ms)
        except _Err as err:
            raise _error(err) from None
        return [t.TaskMeasurement(r.task_id, r.container, _measurement(r.measurement)) for r in rows]

    def unit_target(self) -> Optional[str]:
        try:
            return _systemd.target()
        except _Err as err:
            raise _unit_error(err) from None

    def unit(self, name: str) -> t.Unit:
        try:
            return _unit(_systemd.inspect(name))
        except _Err as err:
            raise _unit_error(err) from None

    def units(self, pattern: str) -> list:
        try:
            rows = _systemd.list(pattern)
        except _Err as err:
            raise _unit_error(err) from None
        return [_unit(u) for u in rows]

    def unit_job(self, verb: str, name: str, kill_after_ms: Optional[int]) -> t.Job:
        try:
            if verb == "start":
                job = _systemd.start(name)
            elif verb == "stop":
                job = _systemd.stop(name, kill_after_ms)
            else:
                job = _systemd.restart(name, kill_after_ms)
        except _Err as err:
            raise _unit_error(err) from None
        return t.Job(job.result, _unit(job.unit))

    def unit_kill(self, name: str, signal: int) -> None:
        try:
            _systemd.kill(name, signal)
        except _Err as err:
            raise _unit_error(err) from None

    def unit_stats(self, name: str, max_age_ms: int, window_ms: int) -> t.UnitMeasurement:
        try:
            return _unit_measurement(_systemd.stats(name, max_age_ms, window_ms))
        except _Err as err:
            raise _unit_error(err) from None

    def now_ms(self) -> int:
        return _clock.now_ms()

    def sleep(self, millis: int) -> None:
        try:
            _clock.sleep(millis)
        except _Err as err:
            raise _error(err) from None

    def log(self, level: t.Level, message: str) -> None:
        _log.log(_log.Level(level.value), message)

    def setting(self, key: str) -> Optional[str]:
        return _settings.get(key)

    def state_get(self, key: str) -> Optional[str]:
        try:
            return _state.get(key)
        except _Err as err:
            raise _error(err) from None

    def compare_and_set(self, key: str, expected: Optional[str], value: Optional[str]) -> bool:
        try:
            return _state.compare_and_set(key, expected, value)
        except _Err as err:
            raise _error(err) from None

    def state_keys(self) -> list:
        try:
            return list(_state.keys())
        except _Err as err:
            raise _error(err) from None


_COMPONENT = _Component() if IN_COMPONENT else None


def backend():
    """The component's imports, or the fake the running test installed."""
    if _COMPONENT is not None:
        return _COMPONENT
    from . import testing

    return testing._current()
