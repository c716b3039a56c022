"""A fake host for unit tests, run with plain CPython (never in a component).

Describe the containers with a :class:`Scene`, install it, call the policy's
real function, then check its answer and what it did. Lifecycle calls change
the fake containers, scale and redeploy the fake services, as the daemon
does, and start, stop, restart and kill the fake systemd units as systemd
does (the rules are the runtime's, in ``_model``, held to the same table of
cases as the runtime and the Rust SDK's fake), a missing container answers
``No such container: <name>``,
stats are synthesised so :meth:`Figures.of <sme_guest.figures.Figures.of>`
gives back the scene's CPU % and memory, and the clock moves only when the
policy sleeps.

>>> from sme_guest import edgex, testing
>>> testing.Scene().container("edgex-core-data", stop_timeout=30).setting("grace_cap_s", "5").install()
>>> edgex.lifecycle_within(edgex.Lifecycle.STOP, "edgex-core-data", 5)
'""'
>>> testing.calls()
['inspect edgex-core-data', 'stop edgex-core-data', 'inspect edgex-core-data']
>>> testing.timeouts()
[('stop edgex-core-data', 5)]
>>> testing.state("edgex-core-data").status
<Status.EXITED: 5>
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

from . import _model as model
from . import types as t

#: What ``clock.now_ms()`` answers when a scene is installed.
NOW_MS = 1_700_000_000_000
#: When a scene's containers were created: two hours before :data:`NOW_MS`.
CREATED_MS = NOW_MS - 2 * 3_600_000
#: When a running container of the scene started: an hour before :data:`NOW_MS`.
STARTED_MS = NOW_MS - 3_600_000
#: When a stopped container of the scene stopped: half an hour before :data:`NOW_MS`.
FINISHED_MS = NOW_MS - 1_800_000

_SYSTEM_NS_PER_READING = 10_000_000_000

#: How long systemd waits for a unit to stop before its SIGKILL
#: (``TimeoutStopSec``'s default), in milliseconds.
STOP_TIMEOUT_MS = 90_000
#: The first main PID the fake gives a unit's process; every start takes the next.
FIRST_PID = 1000
_SIGKILL = 9
_SIGTERM = 15
_UNIT_WINDOW_MS = (100, 1000)


@dataclass
class _HeldUnit:
    """A fake unit: the model's state and what systemd reports beside it."""

    model: model.UnitModel
    spec: "UnitBuilder"
    main_pid: int
    since_ms: Optional[int]

    def cpu_ns(self, at_ms: int) -> int:
        """Its CPU time at ``at_ms``: the scene's rate since it (re)started."""
        return int(round((at_ms - (self.since_ms or at_ms)) * self.spec._cpu_percent * 10_000))


class _Fake:
    def __init__(self, scene: "Scene"):
        self.containers: Dict[str, t.Container] = {c.name: replace(c) for c in scene._containers}
        self.specs: Dict[str, dict] = {}  # the services, by name: their model and the scene's extras
        for index, (name, spec) in enumerate(scene._services.items()):
            deployed = model.ServiceModel.deploy(
                name, spec["replicas"], CREATED_MS, started_ms=STARTED_MS, image=spec["image"], nodes=spec["nodes"],
                labels=list(spec["labels"]), version=10, failing=spec["failing"],
                starts_after_ms=spec["starts_after_ms"], stops_after_ms=spec["stops_after_ms"], index=index)
            self.specs[name] = dict(spec, model=deployed)
        self.swarm = scene._swarm
        self.systemd = scene._systemd
        self.pid = FIRST_PID
        self.unit_models: Dict[str, _HeldUnit] = {name: self._held(spec) for name, spec in scene._units.items()}
        self.kill_afters: List[Tuple[str, Optional[int]]] = []
        self.extra = {name: dict(extra) for name, extra in scene._extra.items()}
        self.settings = dict(scene._settings)
        self.kept: Dict[str, str] = dict(scene._kept)
        self.state_limits = scene._state_limits
        self.denied = set(scene._denied)
        self.now = scene._now if scene._now is not None else NOW_MS
        self.budgets: List[Tuple[str, int, int]] = list(scene._budgets)
        self.spent: Dict[Tuple[str, str], List[int]] = {k: list(v) for k, v in scene._spent.items()}
        self.calls: List[str] = []
        self.timeouts: List[Tuple[str, Optional[int]]] = []
        self.logs: List[Tuple[t.Level, str]] = []

    def _call(self, verb: str, name: str) -> t.Container:
        self._admit(verb, name)
        if name not in self.containers:
            raise t.NotFound(f"No such container: {name}")
        return self.containers[name]

    def inspect(self, name: str) -> t.Container:
        return replace(self._call("inspect", name))

    def list(self, f: t.Filter) -> list:
        self.calls.append("list")
        _check_pattern(f.name)
        rows = []
        for c in self.containers.values():
            if not f.all and not model.is_up(c.status):
                continue
            if f.name is not None and not model.matches(f.name, c.name):
                continue
            if f.label is not None and not model.label_matches(c.labels, f.label):
                continue
            if ("list", c.name) in self.denied:
                continue
            rows.append(t.Summary(c.id, c.name, c.image, c.status, list(c.labels)))
        return rows

    def lifecycle(self, verb: str, name: str, timeout: Optional[int]) -> None:
        if verb in ("stop", "restart") and (verb, name) not in self.denied:
            self.timeouts.append((f"{verb} {name}", timeout))
        c = self._call(verb, name)
        failure = self.extra.get(name, {}).get("fail", {}).get(verb)
        if failure is not None:
            raise t.Docker(failure)
        started_before = c.started_ms
        model.apply(verb, c, self.now)
        # A (re)start runs no health check here: ``starting``, as Docker says
        # until the first check, unless the scene says what it would find.
        if c.started_ms != started_before and c.health != t.Health.NONE:
            c.health = self.extra.get(name, {}).get("health_after_start", t.Health.STARTING)

    def stop_timeout(self, name: str) -> Optional[int]:
        self._call("inspect", name)
        return self.extra.get(name, {}).get("stop_timeout")

    def _sample(self, name: str, c: t.Container, total_ns: int, system_ns: int) -> t.Sample:
        extra = self.extra.get(name, {})
        running = c.running
        return t.Sample(
            t.CpuReading(self.now * 1_000_000 if running else 0, total_ns, system_ns, 1),
            extra.get("memory_usage", 0) if running else 0,
            extra.get("memory_limit", 0) if running else 0,
            None,
            None,
            0,
            0,
            0,
            0,
            1 if running else 0,
        )

    def one_shot(self, name: str) -> t.Sample:
        c = self._call("stats", name)
        return self._sample(name, c, 0, _SYSTEM_NS_PER_READING)

    def measure(self, name: str, how: str, max_age_ms: int = 0) -> t.Measurement:
        c = self._call("stats", name)
        if not c.running:
            return t.Measurement(None, self._sample(name, c, 0, 0))
        cpu = self.extra.get(name, {}).get("cpu_percent", 0.0)
        previous = t.CpuReading((self.now - 1000) * 1_000_000, 0, 0, 1)
        total = int(round(cpu / 100.0 * _SYSTEM_NS_PER_READING))
        return t.Measurement(previous, self._sample(name, c, total, _SYSTEM_NS_PER_READING))

    def counted(self, name: str, max_age_ms: int, window_ms: int) -> t.Sourced:
        return t.Sourced(self.measure(name, "within", max_age_ms), t.Source.CGROUP, True)

    # Swarm services, changed by the model the runtime's simulation follows.

    def _admit(self, verb: str, name: str, effect: Optional[str] = None) -> None:
        if (verb, name) in self.denied:
            self.calls.append(f"{verb} {name} denied")
            raise t.Denied(f"module under test may not {verb} {name}: the test's scene denies it")
        self.calls.append(f"{verb} {name}")
        self._spend(verb, name, effect or _EFFECT_OF.get(verb), t.LimitExceeded)

    def _spend(self, verb: str, name: str, effect: Optional[str], error) -> None:
        """Checks a change against the scene's budgets as the runtime checks its own: past one,
        the call is listed with `` limit`` and ``error`` raised."""
        if effect is None:
            return
        spent = self.spent.setdefault((name, effect), [])
        for of, most, per_ms in self.budgets:
            if of != effect:
                continue
            next_ms = model.next_allowed(most, per_ms, spent, self.now)
            if next_ms is not None:
                self.calls[-1] += " limit"
                raise error(f"module under test may not {verb} {name} now: budget {effect} ({most} per "
                            f"{per_ms} ms) is spent for {name}; the next {effect} is allowed at {next_ms} ms")
        spent.append(self.now)

    def _spec(self, verb: str, name: str) -> dict:
        if name not in self.specs:
            raise t.NotFound(f"service {name} not found")
        spec = self.specs[name]
        failure = spec["fail"].get(verb)
        if failure is not None:
            raise t.Docker(failure)
        return spec

    def _service_call(self, verb: str, name: str) -> dict:
        self._admit(verb, name)
        return self._spec(verb, name)

    def _shown(self, name: str) -> t.Service:
        return self.specs[name]["model"].at(self.now)

    def swarm_target(self) -> Optional[str]:
        return self.swarm

    def service(self, name: str) -> t.Service:
        self._service_call("inspect", name)
        return self._shown(name)

    def services(self, f: t.ServiceFilter) -> list:
        self.calls.append("list")
        _check_pattern(f.name)
        rows = []
        for name in self.specs:
            shown = self._shown(name)
            if f.name is not None and not model.matches(f.name, name):
                continue
            if f.label is not None and not model.label_matches(shown.labels, f.label):
                continue
            if ("list", name) in self.denied:
                continue
            rows.append(t.ServiceSummary(shown.id, name, shown.image, shown.mode, shown.replicas,
                                         shown.labels))
        return rows

    def scale(self, name: str, replicas: int, notes: list) -> None:
        # The runtime checks the notes once the gate admits the call, before
        # asking the daemon anything.
        self._admit("scale", name, "stop" if replicas == 0 else "scale")
        labels = model.note_labels(list(notes))
        self._spec("scale", name)["model"].scale(replicas, labels, self.now)

    def redeploy(self, name: str) -> None:
        self._service_call("redeploy", name)["model"].redeploy(self.now)

    def task_stats(self, name: str, max_age_ms: int) -> list:
        spec = self._service_call("stats", name)
        rows = []
        service = spec["model"]
        here = service.nodes[0]
        for k in self._shown(name).tasks:
            if k.state != t.TaskState.RUNNING or k.desired_state != t.TaskState.RUNNING or k.node_id != here:
                continue
            total = int(round(spec["cpu_percent"] / 100.0 * _SYSTEM_NS_PER_READING))
            previous = t.CpuReading((self.now - 1000) * 1_000_000, 0, 0, 1)
            current = t.Sample(t.CpuReading(self.now * 1_000_000, total, _SYSTEM_NS_PER_READING, 1),
                               spec["memory"][0], spec["memory"][1], None, None, 0, 0, 0, 0, 1)
            rows.append(t.TaskMeasurement(k.id, service.container_name(k), t.Measurement(previous, current)))
        return rows

    # systemd units, changed by the model the runtime's simulation follows.

    def _held(self, spec: "UnitBuilder") -> _HeldUnit:
        unit = model.UnitModel(spec.name, model.FAILS if spec._fails else model.RUNS, spec._masked)
        state = spec._state or ("failed" if spec._fails else "inactive" if spec._masked else "running")
        if state == "running":
            unit.run()
            return _HeldUnit(unit, spec, self._next_pid(), STARTED_MS)
        if state == "failed":
            unit.settle("failed", "failed", "exit-code", False)
            return _HeldUnit(unit, spec, 0, FINISHED_MS)
        return _HeldUnit(unit, spec, 0, None)

    def _next_pid(self) -> int:
        self.pid += 1
        return self.pid - 1

    def _unit_admit(self, verb: str, name: str) -> None:
        # The gate checks the name before the grant, then lists the call.
        if (verb, name) in self.denied and model.is_unit_name(name):
            self.calls.append(f"{verb} {name} denied")
            raise t.UnitDenied(f"module under test may not {verb} {name}: the test's scene denies it")
        self.calls.append(f"{verb} {name}")
        model.check_unit_name(name)
        self._spend(verb, name, _EFFECT_OF.get(verb), t.UnitLimitExceeded)

    def _unit(self, name: str) -> _HeldUnit:
        if name not in self.unit_models:
            raise t.UnitNotFound(model.unit_not_found(name))
        return self.unit_models[name]

    def _shown_unit(self, held: _HeldUnit) -> t.Unit:
        state = held.model.state
        # systemd unloads an inactive unit nothing refers to: loaded again
        # when asked about, it has no state-change time.
        since = held.since_ms if state.active_state != "inactive" else None
        return t.Unit(held.model.name, state.load_state, state.active_state, state.sub_state, state.result,
                      held.main_pid, since)

    def _changed(self, held: _HeldUnit, change, new_process: bool = False) -> object:
        """Runs ``change`` on the unit; a new state is stamped now, with a new
        main PID when a process runs (always after a restart: ``new_process``)."""
        before = replace(held.model.state)
        answer = change()
        after = held.model.state
        if after != before or (new_process and after.running):
            held.since_ms = self.now
            held.main_pid = self._next_pid() if after.running else 0
        return answer

    def unit_target(self) -> Optional[str]:
        mode, name = self.systemd
        if mode == "on" or name is None:
            return name
        # auto: the unit, if systemd has it (asked under the inspect grant).
        self._unit_admit("inspect", name)
        return name if name in self.unit_models else None

    def unit(self, name: str) -> t.Unit:
        self._unit_admit("inspect", name)
        return self._shown_unit(self._unit(name))

    def units(self, pattern: str) -> list:
        self.calls.append("list")
        if not model.valid_pattern(pattern):
            raise t.UnitInvalidArgument(model.bad_pattern(pattern))
        return [self._shown_unit(held) for name, held in sorted(self.unit_models.items())
                if held.model.state.active_state != "inactive" and model.matches(pattern, name)
                and ("list", name) not in self.denied]

    def unit_job(self, verb: str, name: str, kill_after_ms: Optional[int]) -> t.Job:
        if verb != "start" and (verb, name) not in self.denied:
            self.kill_afters.append((f"{verb} {name}", kill_after_ms))
        self._unit_admit(verb, name)
        held = self._unit(name)

        def start() -> str:
            return held.model.start()

        def stop() -> str:
            return self._stop_unit(held, kill_after_ms)

        def restart() -> str:
            held.model.refuse_if_masked()
            self._stop_unit(held, kill_after_ms)
            return held.model.start()

        change = {"start": start, "stop": stop, "restart": restart}[verb]
        result = self._changed(held, change, new_process=verb == "restart")
        return t.Job(result, self._shown_unit(held))

    def _stop_unit(self, held: _HeldUnit, kill_after_ms: Optional[int]) -> str:
        unit = held.model
        if not (held.spec._ignores_sigterm and unit.state.active_state == "active" and unit.state.running):
            return unit.stop()
        # SIGTERM does nothing: the runtime's SIGKILL at kill_after_ms, or
        # systemd's own at TimeoutStopSec, ends the process.
        if kill_after_ms is not None and kill_after_ms < STOP_TIMEOUT_MS:
            self.now += kill_after_ms
            unit.kill(_SIGKILL)
        else:
            self.now += STOP_TIMEOUT_MS
            unit.settle("failed", "failed", "timeout", False)
        return "done"

    def unit_kill(self, name: str, signal: int) -> None:
        self._unit_admit("stop", name)
        if not 1 <= signal <= 64:
            raise t.UnitInvalidArgument(f"signal {signal} is not a signal number from 1 to 64")
        held = self._unit(name)
        if signal == _SIGTERM and held.spec._ignores_sigterm:
            return

        def kill() -> None:
            held.model.kill(signal)

        self._changed(held, kill)

    def unit_stats(self, name: str, max_age_ms: int, window_ms: int) -> t.UnitMeasurement:
        self._unit_admit("stats", name)
        held = self._unit(name)
        read_ns = self.now * 1_000_000
        if not held.model.state.running:
            # No cgroup, nothing accounted.
            return t.UnitMeasurement(t.UnitStats(read_ns), None)
        spec = held.spec
        now = t.UnitStats(read_ns, held.cpu_ns(self.now), spec._memory, spec._tasks, spec._io[0], spec._io[1],
                          spec._ip[0], spec._ip[1])
        before = self.now - min(max(window_ms, _UNIT_WINDOW_MS[0]), _UNIT_WINDOW_MS[1])
        started = held.since_ms if held.since_ms is not None else before
        previous = t.CpuTime(before * 1_000_000, held.cpu_ns(before)) if started <= before else None
        return t.UnitMeasurement(now, previous)

    def now_ms(self) -> int:
        return self.now

    def sleep(self, millis: int) -> None:
        self.now += millis

    def log(self, level: t.Level, message: str) -> None:
        self.logs.append((level, message))

    def setting(self, key: str) -> Optional[str]:
        return self.settings.get(key)

    def state_get(self, key: str) -> Optional[str]:
        model.check_state_key(key)
        return self.kept.get(key)

    def compare_and_set(self, key: str, expected: Optional[str], value: Optional[str]) -> bool:
        model.check_state_key(key)
        if self.kept.get(key) != expected:
            return False
        keys, kib = self.state_limits
        refusal = model.state_write(self.kept, key, value, keys, kib << 10)
        if refusal is not None:
            raise t.LimitExceeded(model.state_refusal(refusal, "policy", key))
        return True

    def state_keys(self) -> list:
        return sorted(self.kept)


def _check_pattern(pattern: Optional[str]) -> None:
    """Refuses a listing's name pattern as the host refuses it."""
    if pattern is not None and not model.valid_pattern(pattern):
        raise t.InvalidArgument(model.bad_pattern(pattern))


_FAKE: Optional[_Fake] = None

# The effect each change spends (docs/budgets.md); a scale spends by its replicas.
_EFFECT_OF = {"start": "start", "stop": "stop", "restart": "restart", "pause": "pause",
              "unpause": "unpause", "redeploy": "restart"}


def _current() -> _Fake:
    if _FAKE is None:
        raise RuntimeError("sme_guest.testing: install a Scene before the policy calls the host")
    return _FAKE


class Scene:
    """The containers, services, systemd units, settings and denials a test runs the policy against."""

    def __init__(self) -> None:
        self._containers: List[t.Container] = []
        self._services: Dict[str, dict] = {}
        self._swarm: Optional[str] = None
        self._units: Dict[str, UnitBuilder] = {}
        self._systemd: Tuple[str, Optional[str]] = ("off", None)
        self._extra: Dict[str, dict] = {}
        self._settings: Dict[str, str] = {}
        self._denied: set = set()
        self._kept: Dict[str, str] = {}
        self._state_limits: Tuple[int, int] = (16, 4)
        self._now: Optional[int] = None
        self._budgets: List[Tuple[str, int, int]] = []
        self._spent: Dict[Tuple[str, str], List[int]] = {}

    def container(
        self,
        name: str,
        status: t.Status = t.Status.RUNNING,
        *,
        health: t.Health = t.Health.NONE,
        labels: Optional[Dict[str, str]] = None,
        restart_count: int = 0,
        exit_code: int = 0,
        image: str = "busybox:latest",
        stop_timeout: Optional[int] = None,
        cpu_percent: float = 0.0,
        memory: Tuple[int, int] = (0, 0),
        fail: Optional[Dict[str, str]] = None,
        health_after_start: t.Health = t.Health.STARTING,
    ) -> "Scene":
        """Adds a container, running since :data:`STARTED_MS` unless ``status``
        says otherwise; ``fail`` maps a verb to the daemon's refusal message."""
        running = status in (t.Status.RUNNING, t.Status.PAUSED, t.Status.RESTARTING)
        self._containers.append(
            t.Container(
                id=f"{len(self._containers) + 1:064x}",
                name=name,
                image=image,
                status=status,
                running=running,
                health=health,
                exit_code=exit_code,
                restart_count=restart_count,
                created_ms=CREATED_MS,
                started_ms=None if status == t.Status.CREATED else STARTED_MS,
                finished_ms=FINISHED_MS if status in (t.Status.EXITED, t.Status.DEAD) else None,
                labels=list((labels or {}).items()),
            )
        )
        self._extra[name] = {
            "stop_timeout": stop_timeout,
            "cpu_percent": cpu_percent,
            "memory_usage": memory[0],
            "memory_limit": memory[1],
            "fail": dict(fail or {}),
            "health_after_start": health_after_start,
        }
        return self

    def service(
        self,
        name: str,
        replicas: Optional[int] = 1,
        *,
        labels: Optional[Dict[str, str]] = None,
        image: str = "busybox:latest",
        failing: bool = False,
        nodes: int = 1,
        starts_after_ms: int = 0,
        stops_after_ms: int = 0,
        cpu_percent: float = 0.0,
        memory: Tuple[int, int] = (0, 0),
        fail: Optional[Dict[str, str]] = None,
    ) -> "Scene":
        """Adds a Swarm service with ``replicas`` tasks running since
        :data:`STARTED_MS`, spread over ``nodes`` nodes, the first this
        daemon's (``replicas=None``: a global service, one task a node);
        ``failing`` tasks end ``failed`` (``task: non-zero exit (1)``) with a
        retry waiting, as Docker's do; every running task on this node
        measures ``cpu_percent`` and ``memory`` (used, limit); ``fail`` maps a
        verb to the daemon's refusal message. Scales and redeploys change tasks
        at once, unless new tasks take ``starts_after_ms`` to start or old ones
        ``stops_after_ms`` to stop (a redeploy is then ``updating`` until they
        have)."""
        self._services[name] = {
            "replicas": replicas,
            "nodes": nodes,
            "starts_after_ms": starts_after_ms,
            "stops_after_ms": stops_after_ms,
            "labels": list((labels or {}).items()),
            "image": image,
            "failing": failing,
            "cpu_percent": cpu_percent,
            "memory": memory,
            "fail": dict(fail or {}),
        }
        return self

    def swarm_target(self, name: Optional[str]) -> "Scene":
        """What ``services.target()`` answers: the service the request is for
        (``[swarm] mode = "on"``), or None for a container (the default)."""
        self._swarm = name
        return self

    def unit(self, unit: "UnitBuilder") -> "Scene":
        """Adds a systemd unit (see :func:`unit`); one of the same name added
        earlier is replaced."""
        self._units[unit.name] = unit
        return self

    def systemd_target(self, name: Optional[str]) -> "Scene":
        """What ``systemd.target()`` answers, as the runtime does with
        ``[systemd] mode = "on"`` (a unit name) or ``"off"`` (None, the
        default): the request is about that unit, or not about a unit. The
        answer costs no call and is not listed in :func:`calls`."""
        self._systemd = ("on", name)
        return self

    def systemd_auto(self, name: str) -> "Scene":
        """Makes ``systemd.target()`` answer as the runtime does with
        ``[systemd] mode = "auto"``: it inspects the unit ``name`` (listed as
        ``inspect <name>``, refused when the scene denies that) and answers
        its name when the scene has it, None otherwise."""
        self._systemd = ("auto", name)
        return self

    def setting(self, key: str, value: str) -> "Scene":
        """What ``settings.get(key)`` answers."""
        self._settings[key] = value
        return self

    def now(self, now_ms: int) -> "Scene":
        """What ``clock.now_ms()`` answers at first (NOW_MS unless set); :func:`advance` and
        ``clock.sleep`` move it on."""
        self._now = now_ms
        return self

    def budget(self, effect: str, most: int, per_ms: int) -> "Scene":
        """An effect budget, as ``[budgets]`` sets one for the runtime: at most ``most`` of
        ``effect`` (start, stop, restart, pause, unpause, scale) on each object in any ``per_ms``.
        A change past it is listed in :func:`calls` with `` limit`` and raises
        :class:`~sme_guest.types.LimitExceeded`; ``redeploy`` spends ``restart``, a scale to 0
        ``stop``.

        >>> from sme_guest import containers, testing, types
        >>> testing.Scene().container("web").budget("restart", 1, 600_000).install()
        >>> containers.restart("web", None)
        >>> try:
        ...     containers.restart("web", None)
        ... except types.LimitExceeded:
        ...     print("refused")
        refused
        >>> testing.advance(600_000)
        >>> containers.restart("web", None)
        >>> testing.calls()
        ['restart web', 'restart web limit', 'restart web']
        """
        if effect not in model.EFFECTS:
            raise ValueError(f"unknown effect {effect!r}; use one of {', '.join(model.EFFECTS)}")
        self._budgets.append((effect, most, per_ms))
        return self

    def spent(self, name: str, effect: str, at_ms: List[int]) -> "Scene":
        """Spends of ``effect`` on the object ``name`` before the test, at these times (ms)."""
        if effect not in model.EFFECTS:
            raise ValueError(f"unknown effect {effect!r}; use one of {', '.join(model.EFFECTS)}")
        self._spent.setdefault((name, effect), []).extend(at_ms)
        return self

    def state(self, key: str, value: str) -> "Scene":
        """A value the module kept in an earlier run, which ``state.get(key)`` answers."""
        self._kept[key] = value
        return self

    def state_limits(self, keys: int, kib: int) -> "Scene":
        """What the module may keep: the limits ``state_keys`` and ``state_kib``
        (16 keys and 4 KiB unless set)."""
        self._state_limits = (keys, kib)
        return self

    def deny(self, verb: str, name: str) -> "Scene":
        """That call raises :class:`~sme_guest.types.Denied` and is listed with
        `` denied``; it changes nothing. On a unit the verbs are ``inspect``
        (which covers ``systemd.target()`` in auto mode), ``list`` (the unit is
        left out of listings), ``start``, ``stop`` (which covers
        ``systemd.kill``), ``restart`` and ``stats``; the error is then
        :class:`~sme_guest.types.UnitDenied`."""
        self._denied.add((verb, name))
        return self

    def install(self) -> None:
        """Makes this scene the host (replacing any earlier one)."""
        global _FAKE
        _FAKE = _Fake(self)


class UnitBuilder:
    """A systemd unit for a :class:`Scene` (see :func:`unit`); each method
    changes it and returns it."""

    def __init__(self, name: str):
        self.name = name
        self._state: Optional[str] = None
        self._fails = False
        self._masked = False
        self._ignores_sigterm = False
        self._cpu_percent = 0.0
        self._memory = 0
        self._tasks = 1
        self._io: Tuple[Optional[int], Optional[int]] = (None, None)
        self._ip: Tuple[Optional[int], Optional[int]] = (None, None)

    def inactive(self) -> "UnitBuilder":
        """Loaded and never started (``inactive``/``dead``)."""
        self._state = "inactive"
        return self

    def running(self) -> "UnitBuilder":
        """Running since :data:`STARTED_MS` (the default, unless it fails or is masked)."""
        self._state = "running"
        return self

    def fails(self) -> "UnitBuilder":
        """Its process exits with an error as it starts (a ``Type=oneshot``
        unit running ``/bin/false``): a start's job is ``failed`` and the unit
        ``failed``/``failed``, result ``exit-code``, as it is to begin with
        unless :meth:`inactive` says otherwise."""
        self._fails = True
        return self

    def masked(self) -> "UnitBuilder":
        """Masked (load state ``masked``): a start or restart is refused with
        ``org.freedesktop.systemd1.UnitMasked`` (``Unit <name> is masked.``).
        Inactive to begin with unless :meth:`running` says otherwise."""
        self._masked = True
        return self

    def ignores_sigterm(self) -> "UnitBuilder":
        """Its process ignores SIGTERM: a stop (or a restart's stopping half)
        with ``kill_after_ms`` moves the clock that far and SIGKILLs it (the
        unit ends ``failed``, result ``signal``); without, systemd's SIGKILL
        comes at ``TimeoutStopSec`` (:data:`STOP_TIMEOUT_MS`, result
        ``timeout``). ``systemd.kill`` with SIGTERM does nothing to it."""
        self._ignores_sigterm = True
        return self

    def cpu(self, percent: float) -> "UnitBuilder":
        """While running it uses ``percent`` of one CPU (100 is a busy core):
        its ``CPUUsageNSec`` grows by ``percent`` * 10 ms a second."""
        self._cpu_percent = percent
        return self

    def memory(self, usage_bytes: int) -> "UnitBuilder":
        """Its ``MemoryCurrent`` while running (0 unless set)."""
        self._memory = usage_bytes
        return self

    def tasks(self, count: int) -> "UnitBuilder":
        """Its ``TasksCurrent`` while running (1 unless set)."""
        self._tasks = count
        return self

    def io(self, read_bytes: Optional[int], write_bytes: Optional[int]) -> "UnitBuilder":
        """Its ``IOReadBytes`` and ``IOWriteBytes`` while running (None, not
        accounted, unless set)."""
        self._io = (read_bytes, write_bytes)
        return self

    def ip(self, ingress_bytes: Optional[int], egress_bytes: Optional[int]) -> "UnitBuilder":
        """Its ``IPIngressBytes`` and ``IPEgressBytes`` while running (None, as
        systemd's IP accounting is off unless a unit asks for it)."""
        self._ip = (ingress_bytes, egress_bytes)
        return self


def unit(name: str) -> UnitBuilder:
    """A systemd unit named ``name`` for :meth:`Scene.unit`: loaded, its
    process running since :data:`STARTED_MS` (``active``/``running``, result
    ``success``), 0 % CPU, no memory, one task. While it runs,
    ``systemd.stats`` measures CPU over the call's window (100 to 1000 ms)
    against an earlier CPU time, unless it (re)started within that window; a
    unit not running has no counters.

    >>> from sme_guest import systemd, testing
    >>> testing.Scene().unit(testing.unit("edgex-core-data.service").cpu(12.5).memory(1 << 20)).install()
    >>> measured = systemd.stats("edgex-core-data.service", 5000, 250)
    >>> (measured.now.cpu_ns - measured.previous.cpu_ns) / (measured.now.read_ns - measured.previous.read_ns)
    0.125
    >>> measured.now.memory_bytes, measured.now.tasks, measured.now.ip_ingress_bytes
    (1048576, 1, None)
    """
    return UnitBuilder(name)


def request(service: str, operation: str) -> t.Request:
    """A request as the runtime passes it."""
    return t.Request(service, operation)


def calls() -> List[str]:
    """Every Docker and systemd call so far, in order, named by the verb it is
    checked under (``inspect <name>``, ``stop <name>``, ``stats <name>``,
    ``scale <name>``, ``redeploy <name>``, ``list``; `` denied`` for a denied
    one, `` limit`` for a change past a budget (:meth:`Scene.budget`); ``systemd.kill`` is a ``stop``). ``services.target()`` is not
    listed, nor ``systemd.target()`` but in auto mode (as its ``inspect``)."""
    return list(_current().calls)


def timeouts() -> List[Tuple[str, Optional[int]]]:
    """The grace period each stop or restart asked for."""
    return list(_current().timeouts)


def advance(millis: int) -> None:
    """Moves the scene's clock on by ``millis`` without a host call: time passing between two
    requests of a test."""
    _current().now += millis


def kept() -> Dict[str, str]:
    """Every value the module keeps now (``state``), after the policy's writes."""
    return dict(_current().kept)


def logs() -> List[Tuple[t.Level, str]]:
    """The log lines the policy wrote."""
    return list(_current().logs)


def service_state(name: str) -> Optional[t.Service]:
    """The service as ``services.inspect`` would show it now (no call listed), or None."""
    fake = _current()
    return fake._shown(name) if name in fake.specs else None


def kill_afters() -> List[Tuple[str, Optional[int]]]:
    """The ``kill_after_ms`` every unit stop and restart asked for, as
    (``<verb> <name>``, milliseconds or None)."""
    return list(_current().kill_afters)


def unit_state(name: str) -> Optional[t.Unit]:
    """The unit as ``systemd.inspect`` would show it now (no call listed), or
    None when the scene has no such unit.

    >>> from sme_guest import systemd, testing
    >>> testing.Scene().unit(testing.unit("x.service").masked()).install()
    >>> systemd.start("x.service")
    Traceback (most recent call last):
    ...
    sme_guest.types.Refused: org.freedesktop.systemd1.UnitMasked: Unit x.service is masked.
    >>> state = testing.unit_state("x.service")
    >>> (state.load_state, state.active_state)
    ('masked', 'inactive')
    """
    fake = _current()
    return fake._shown_unit(fake.unit_models[name]) if name in fake.unit_models else None


def state(name: str) -> Optional[t.Container]:
    """The container's state now, or None when there is none."""
    container = _current().containers.get(name)
    return None if container is None else replace(container)
