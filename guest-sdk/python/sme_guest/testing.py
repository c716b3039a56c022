"""A fake host for unit tests, run with plain CPython (never in a component).

Describe the containers with a :class:`Scene`, install it, call the policy's
real function, then check its answer and what it did. Lifecycle calls change
the fake containers, and scale and redeploy the fake services, as the daemon
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

from dataclasses import replace
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
        self.extra = {name: dict(extra) for name, extra in scene._extra.items()}
        self.settings = dict(scene._settings)
        self.denied = set(scene._denied)
        self.now = NOW_MS
        self.calls: List[str] = []
        self.timeouts: List[Tuple[str, Optional[int]]] = []
        self.logs: List[Tuple[t.Level, str]] = []

    def _call(self, verb: str, name: str) -> t.Container:
        if (verb, name) in self.denied:
            self.calls.append(f"{verb} {name} denied")
            raise t.Denied(f"module under test may not {verb} {name}: the test's scene denies it")
        self.calls.append(f"{verb} {name}")
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

    def _admit(self, verb: str, name: str) -> None:
        if (verb, name) in self.denied:
            self.calls.append(f"{verb} {name} denied")
            raise t.Denied(f"module under test may not {verb} {name}: the test's scene denies it")
        self.calls.append(f"{verb} {name}")

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
        self._admit("scale", name)
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

    def now_ms(self) -> int:
        return self.now

    def sleep(self, millis: int) -> None:
        self.now += millis

    def log(self, level: t.Level, message: str) -> None:
        self.logs.append((level, message))

    def setting(self, key: str) -> Optional[str]:
        return self.settings.get(key)


def _check_pattern(pattern: Optional[str]) -> None:
    """Refuses a listing's name pattern as the host refuses it."""
    if pattern is not None and not model.valid_pattern(pattern):
        raise t.InvalidArgument(model.bad_pattern(pattern))


_FAKE: Optional[_Fake] = None


def _current() -> _Fake:
    if _FAKE is None:
        raise RuntimeError("sme_guest.testing: install a Scene before the policy calls the host")
    return _FAKE


class Scene:
    """The containers, services, settings and denials a test runs the policy against."""

    def __init__(self) -> None:
        self._containers: List[t.Container] = []
        self._services: Dict[str, dict] = {}
        self._swarm: Optional[str] = None
        self._extra: Dict[str, dict] = {}
        self._settings: Dict[str, str] = {}
        self._denied: set = set()

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

    def setting(self, key: str, value: str) -> "Scene":
        """What ``settings.get(key)`` answers."""
        self._settings[key] = value
        return self

    def deny(self, verb: str, name: str) -> "Scene":
        """That call raises :class:`~sme_guest.types.Denied` and is listed with `` denied``."""
        self._denied.add((verb, name))
        return self

    def install(self) -> None:
        """Makes this scene the host (replacing any earlier one)."""
        global _FAKE
        _FAKE = _Fake(self)


def request(service: str, operation: str) -> t.Request:
    """A request as the runtime passes it."""
    return t.Request(service, operation)


def calls() -> List[str]:
    """Every Docker call so far, in order (``inspect <name>``, ``stop <name>``,
    ``stats <name>``, ``scale <name>``, ``redeploy <name>``, ``list``; `` denied``
    for a denied one). ``services.target()`` is not listed."""
    return list(_current().calls)


def timeouts() -> List[Tuple[str, Optional[int]]]:
    """The grace period each stop or restart asked for."""
    return list(_current().timeouts)


def logs() -> List[Tuple[t.Level, str]]:
    """The log lines the policy wrote."""
    return list(_current().logs)


def service_state(name: str) -> Optional[t.Service]:
    """The service as ``services.inspect`` would show it now (no call listed), or None."""
    fake = _current()
    return fake._shown(name) if name in fake.specs else None


def state(name: str) -> Optional[t.Container]:
    """The container's state now, or None when there is none."""
    container = _current().containers.get(name)
    return None if container is None else replace(container)
