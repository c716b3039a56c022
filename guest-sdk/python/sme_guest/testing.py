"""A fake host for unit tests, run with plain CPython (never in a component).

Describe the containers with a :class:`Scene`, install it, call the policy's
real function, then check its answer and what it did. Lifecycle calls change
the fake containers as the daemon does (the Rust SDK's ``sme_guest::testing``
is the model), a missing container answers ``No such container: <name>``,
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
        self.specs: Dict[str, dict] = {}  # the services, by name
        for name, spec in scene._services.items():
            self.specs[name] = dict(spec, labels=list(spec["labels"]), tasks=[], version=10, made=0,
                                       update=(t.UpdateState.NONE, ""))
            self._place(name, STARTED_MS)
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
        import fnmatch

        self.calls.append("list")
        rows = []
        for c in self.containers.values():
            if not f.all and not c.running:
                continue
            if f.name is not None and not fnmatch.fnmatchcase(c.name, f.name):
                continue
            if f.label is not None:
                key, _, value = f.label.partition("=")
                if c.label(key) is None or ("=" in f.label and c.label(key) != value):
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
        s = t.Status
        if verb in ("start", "restart"):
            if c.status == s.PAUSED and verb == "start":
                raise t.Docker("cannot start a paused container, try unpause instead")
            if verb == "start" and c.running:
                return
            c.status, c.running, c.started_ms = s.RUNNING, True, self.now
            if c.health != t.Health.NONE:
                c.health = self.extra.get(name, {}).get("health_after_start", t.Health.STARTING)
        elif verb == "stop":
            if c.running:
                c.status, c.running, c.exit_code, c.finished_ms = s.EXITED, False, 0, self.now
        elif verb == "pause":
            if c.status == s.PAUSED:
                raise t.Docker(f"Container {c.id} is already paused")
            if c.status != s.RUNNING:
                raise t.Docker(f"Container {c.id} is not running")
            c.status = s.PAUSED
        elif verb == "unpause":
            if c.status != s.PAUSED:
                raise t.Docker(f"Container {c.id} is not paused")
            c.status = s.RUNNING

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

    # Swarm services: tasks change at once, as in the Rust SDK's fake.

    def _task(self, name: str, slot: Optional[int], at: int) -> t.Task:
        spec = self.specs[name]
        spec["made"] += 1
        index = list(self.specs).index(name)
        task_id = f"t{index:04d}{spec['made']:020d}"
        if spec["failing"]:
            message = "task: non-zero exit (1)"
            return t.Task(task_id, "node1", slot, t.TaskState.RUNNING, t.TaskState.FAILED, message, message,
                          f"{task_id:0>64}", 1, at)
        return t.Task(task_id, "node1", slot, t.TaskState.RUNNING, t.TaskState.RUNNING, "started", None,
                      f"{task_id:0>64}", None, at)

    def _place(self, name: str, at: int, first_slot: int = 1) -> None:
        """Adds the tasks the service wants from ``first_slot`` on (one for a global service)."""
        spec = self.specs[name]
        slots = [None] if spec["replicas"] is None else range(first_slot, spec["replicas"] + 1)
        spec["tasks"][:0] = [self._task(name, slot, at) for slot in slots]

    def _service_call(self, verb: str, name: str) -> dict:
        if (verb, name) in self.denied:
            self.calls.append(f"{verb} {name} denied")
            raise t.Denied(f"module under test may not {verb} {name}: the test's scene denies it")
        self.calls.append(f"{verb} {name}")
        if name not in self.specs:
            raise t.NotFound(f"service {name} not found")
        spec = self.specs[name]
        failure = spec["fail"].get(verb)
        if failure is not None:
            raise t.Docker(failure)
        return spec

    def _shown(self, name: str) -> t.Service:
        spec = self.specs[name]
        tasks = sorted((replace(k) for k in spec["tasks"]), key=lambda k: -k.updated_ms)
        replicas = spec["replicas"]
        desired = replicas if replicas is not None else sum(
            k.desired_state == t.TaskState.RUNNING for k in tasks)
        running = sum(k.state == t.TaskState.RUNNING for k in tasks)
        mode = t.Mode.REPLICATED if replicas is not None else t.Mode.GLOBAL
        return t.Service(f"s{list(self.specs).index(name):024d}", name, spec["image"], mode, replicas,
                         desired, running, tasks, spec["update"][0], spec["update"][1], list(spec["labels"]),
                         spec["version"], CREATED_MS, CREATED_MS)

    def swarm_target(self) -> Optional[str]:
        return self.swarm

    def service(self, name: str) -> t.Service:
        self._service_call("inspect", name)
        return self._shown(name)

    def services(self, f: t.ServiceFilter) -> list:
        import fnmatch

        self.calls.append("list")
        rows = []
        for name in self.specs:
            shown = self._shown(name)
            if f.name is not None and not fnmatch.fnmatchcase(name, f.name):
                continue
            if f.label is not None:
                key, _, value = f.label.partition("=")
                if shown.label(key) is None or ("=" in f.label and shown.label(key) != value):
                    continue
            if ("list", name) in self.denied:
                continue
            rows.append(t.ServiceSummary(shown.id, name, shown.image, shown.mode, shown.replicas,
                                         shown.labels))
        return rows

    def scale(self, name: str, replicas: int, notes: list) -> None:
        spec = self._service_call("scale", name)
        if spec["replicas"] is None:
            raise t.InvalidArgument(
                f"service {name} is global: it runs one task per node and has no replica count to scale")
        labels = [(t.NOTE_PREFIX + key, value) for key, value in notes]
        current = dict(spec["labels"])
        if spec["replicas"] == replicas and all(current.get(k) == v for k, v in labels):
            return
        for key, value in labels:
            current.pop(key, None)
            if value is not None:
                current[key] = value
        spec["labels"] = list(current.items())
        before, spec["replicas"] = spec["replicas"], replicas
        spec["version"] += 1
        spec["tasks"] = [k for k in spec["tasks"] if k.slot is None or k.slot <= replicas]
        if replicas > before:
            self._place(name, self.now, before + 1)

    def redeploy(self, name: str) -> None:
        spec = self._service_call("redeploy", name)
        spec["version"] += 1
        for k in spec["tasks"]:
            if k.desired_state == t.TaskState.RUNNING:
                k.desired_state = t.TaskState.SHUTDOWN
                if k.state == t.TaskState.RUNNING:
                    k.state, k.message, k.exit_code, k.updated_ms = t.TaskState.SHUTDOWN, "shutdown", 0, self.now
        self._place(name, self.now)
        if spec["failing"]:
            spec["update"] = (t.UpdateState.PAUSED,
                              f"update paused due to failure or early termination of task {spec['tasks'][0].id}")
        else:
            spec["update"] = (t.UpdateState.COMPLETED, "update completed")

    def task_stats(self, name: str, max_age_ms: int) -> list:
        spec = self._service_call("stats", name)
        rows = []
        for k in self._shown(name).tasks:
            if k.state != t.TaskState.RUNNING or k.desired_state != t.TaskState.RUNNING:
                continue
            total = int(round(spec["cpu_percent"] / 100.0 * _SYSTEM_NS_PER_READING))
            previous = t.CpuReading((self.now - 1000) * 1_000_000, 0, 0, 1)
            current = t.Sample(t.CpuReading(self.now * 1_000_000, total, _SYSTEM_NS_PER_READING, 1),
                               spec["memory"][0], spec["memory"][1], None, None, 0, 0, 0, 0, 1)
            place = k.slot if k.slot is not None else k.node_id
            rows.append(t.TaskMeasurement(k.id, f"{name}.{place}.{k.id}", t.Measurement(previous, current)))
        return rows

    def now_ms(self) -> int:
        return self.now

    def sleep(self, millis: int) -> None:
        self.now += millis

    def log(self, level: t.Level, message: str) -> None:
        self.logs.append((level, message))

    def setting(self, key: str) -> Optional[str]:
        return self.settings.get(key)


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
        cpu_percent: float = 0.0,
        memory: Tuple[int, int] = (0, 0),
        fail: Optional[Dict[str, str]] = None,
    ) -> "Scene":
        """Adds a Swarm service with ``replicas`` tasks running on this node
        (``replicas=None``: a global service, one task); ``failing`` tasks end
        ``failed`` (``task: non-zero exit (1)``); every running task measures
        ``cpu_percent`` and ``memory`` (used, limit); ``fail`` maps a verb to the
        daemon's refusal message. Scales and redeploys change tasks at once."""
        self._services[name] = {
            "replicas": replicas,
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
