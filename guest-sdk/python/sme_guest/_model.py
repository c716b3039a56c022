"""The rules the fake host follows, as the runtime's engines follow them.

A Python copy of the ``sme-model`` crate (``runtime/model``), which the
runtime and the Rust SDK's fake share: name patterns and label selectors,
notes, the container lifecycle, the Swarm service model and systemd units. The table of
cases in ``runtime/model/cases.json`` runs against both (here in
``tests/test_cases.py``), so the copies cannot drift silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

from . import types as t

# Names ----------------------------------------------------------------------

_PATTERN_BYTES = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-*?")


def valid_pattern(pattern: str) -> bool:
    """Container-name characters and the wildcards ``*`` and ``?``."""
    data = pattern.encode()
    return bool(data) and all(b in _PATTERN_BYTES for b in data)


def bad_pattern(pattern: str) -> str:
    return (f"bad name pattern {_quoted(pattern)}: use container-name characters [a-zA-Z0-9_.-] and the "
            "wildcards * and ?")


def matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches the whole pattern; a name with ``/`` never does."""
    if "/" in name:
        return False
    p = n = 0
    star: Optional[Tuple[int, int]] = None
    while n < len(name):
        if p < len(pattern) and pattern[p] == "*":
            star = (p, n)
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", name[n]):
            p += 1
            n += 1
        elif star is not None:
            p, n = star[0] + 1, star[1] + 1
            star = (star[0], star[1] + 1)
        else:
            return False
    return all(c == "*" for c in pattern[p:])


def label_matches(labels: List[Tuple[str, str]], selector: str) -> bool:
    """A ``key`` or ``key=value`` selector, as the daemon's ``label`` filter."""
    if "=" in selector:
        key, _, value = selector.partition("=")
        return any(k == key and v == value for k, v in labels)
    return any(k == selector for k, _ in labels)


def shown(text: str) -> str:
    """A possibly hostile string as the runtime shows it: quoted, escaped, the
    first 64 characters."""
    return _quoted(text[:64]) + ("..." if len(text) > 64 else "")


def _quoted(text: str) -> str:
    """``text`` quoted and escaped as Rust's ``{:?}`` writes it."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{{{ord(c):x}}}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


# Budgets --------------------------------------------------------------------

EFFECTS = ("start", "stop", "restart", "pause", "unpause", "scale")


def next_allowed(most: int, per_ms: int, spent_ms: List[int], now_ms: int) -> Optional[int]:
    """When one more spend is allowed, if not now (None): at most ``most`` spends in any ``per_ms``;
    a spend after ``now_ms`` counts as ``now_ms``."""
    within = sorted(t for t in (min(t, now_ms) for t in spent_ms) if t + per_ms > now_ms)
    if len(within) >= most:
        return within[len(within) - most] + per_ms
    return None


# State ----------------------------------------------------------------------

MAX_STATE_KEY = 128


def check_state_key(key: str) -> None:
    """Raises InvalidArgument for a key the runtime refuses: 1 to 128 bytes, no control characters."""
    size = len(key.encode())
    if size == 0 or size > MAX_STATE_KEY or any(_is_control(c) for c in key):
        raise t.InvalidArgument(
            f"invalid state key {_quoted(key[:MAX_STATE_KEY])}: a key has 1 to {MAX_STATE_KEY} bytes "
            "and no control characters")


def state_write(values: Dict[str, str], key: str, value: Optional[str], keys: int, size: int) -> Optional[tuple]:
    """Sets ``key`` to ``value`` in ``values`` (removes it when None) unless that would keep more
    than ``keys`` keys or ``size`` bytes of keys and values: then answers the refusal, ``("keys",
    keys)`` or ``("bytes", size, used)``, and changes nothing. A removal always passes."""
    if value is None:
        values.pop(key, None)
        return None
    if len(values) + (key not in values) > keys:
        return ("keys", keys)
    used = sum(len(k.encode()) + len(v.encode()) for k, v in values.items() if k != key)
    used += len(key.encode()) + len(value.encode())
    if used > size:
        return ("bytes", size, used)
    values[key] = value
    return None


def state_refusal(refusal: tuple, module: str, key: str) -> str:
    """The text of the runtime's limit-exceeded answer to ``module`` writing ``key``."""
    if refusal[0] == "keys":
        return (f"module {module} may keep at most {refusal[1]} keys (limit `state_keys`); "
                f"{_quoted(key)} would be one more")
    return (f"module {module} may keep at most {refusal[1] >> 10} KiB of keys and values (limit "
            f"`state_kib`); writing {_quoted(key)} would keep {refusal[2]} bytes")


# Notes ----------------------------------------------------------------------

MAX_NOTES = 8
MAX_NOTE_KEY = 64
MAX_NOTE_VALUE = 256
_NOTE_KEY_BYTES = set(b"abcdefghijklmnopqrstuvwxyz0123456789.-")


def check_total(service: str, current, changes) -> None:
    """Raises InvalidArgument when the notes a service would hold once
    ``changes`` apply to its labels ``current`` pass MAX_NOTES in all."""
    notes = {key for key in current if key.startswith(t.NOTE_PREFIX)}
    for key, value in changes:
        if value is None:
            notes.discard(key)
        else:
            notes.add(key)
    if len(notes) > MAX_NOTES:
        raise t.InvalidArgument(
            f"service {service} would hold {len(notes)} notes: at most {MAX_NOTES} per service "
            "(remove one with a none value first)")


def _is_control(c: str) -> bool:
    """Rust's ``char::is_control``: the C0 and C1 controls and DEL."""
    code = ord(c)
    return code < 0x20 or 0x7F <= code < 0xA0


def note_labels(notes: List[Tuple[str, Optional[str]]]) -> List[Tuple[str, Optional[str]]]:
    """The labels a module's notes are kept in; raises InvalidArgument as the runtime refuses them."""
    if len(notes) > MAX_NOTES:
        raise t.InvalidArgument(f"{len(notes)} notes in one scale: at most {MAX_NOTES}")
    labels = []
    for key, value in notes:
        data = key.encode()
        if not data or len(data) > MAX_NOTE_KEY or not all(b in _NOTE_KEY_BYTES for b in data):
            raise t.InvalidArgument(
                f"note key {shown(key)} is not 1 to {MAX_NOTE_KEY} characters of [a-z0-9.-]")
        if ".." in key or key.startswith(".") or key.endswith("."):
            raise t.InvalidArgument(f"note key {shown(key)} has an empty part between its dots")
        if value is not None and len(value.encode()) > MAX_NOTE_VALUE:
            raise t.InvalidArgument(f"note {key} is longer than {MAX_NOTE_VALUE} bytes")
        if value is not None and any(_is_control(c) for c in value):
            raise t.InvalidArgument(f"note {key} holds a control character")
        labels.append((t.NOTE_PREFIX + key, value))
    return labels


# Containers -----------------------------------------------------------------

_UP = (t.Status.RUNNING, t.Status.PAUSED, t.Status.RESTARTING)


def is_up(status: t.Status) -> bool:
    """Docker's ``State.Running``: true while paused or restarting too."""
    return status in _UP


def _started(c: t.Container, now_ms: int) -> None:
    c.status, c.running, c.exit_code, c.started_ms = t.Status.RUNNING, True, 0, now_ms
    if c.health != t.Health.NONE:
        c.health = t.Health.STARTING


def _stopped(c: t.Container, now_ms: int) -> None:
    c.status, c.running, c.exit_code, c.finished_ms = t.Status.EXITED, False, 0, now_ms
    if c.health != t.Health.NONE:
        c.health = t.Health.UNHEALTHY


def apply(op: str, c: t.Container, now_ms: int) -> None:
    """Applies ``op`` (start, stop, restart, pause, unpause) to ``c`` as the
    daemon does; raises Docker with its words, leaving ``c`` as it was."""
    s = t.Status
    removal = c.status in (s.REMOVING, s.DEAD)
    if op == "start":
        if removal:
            raise t.Docker("container is marked for removal and cannot be started")
        if c.status == s.PAUSED:
            raise t.Docker("cannot start a paused container, try unpause instead")
        if not is_up(c.status):
            _started(c, now_ms)
    elif op == "stop":
        if is_up(c.status):
            _stopped(c, now_ms)
    elif op == "restart":
        if removal:
            raise t.Docker("container is marked for removal and cannot be started")
        if is_up(c.status):
            _stopped(c, now_ms)
        _started(c, now_ms)
    elif op == "pause":
        if c.status == s.PAUSED:
            raise t.Docker(f"Container {c.id} is already paused")
        if c.status == s.RESTARTING:
            raise t.Docker(f"Container {c.id} is restarting, wait until the container is running")
        if c.status != s.RUNNING:
            raise t.Docker(f"Container {c.id} is not running")
        c.status = s.PAUSED
        if c.health != t.Health.NONE:
            c.health = t.Health.UNHEALTHY
    elif op == "unpause":
        if c.status != s.PAUSED:
            raise t.Docker(f"Container {c.id} is not paused")
        c.status = s.RUNNING
    else:
        raise ValueError(f"not a lifecycle call: {op}")


# Swarm services -------------------------------------------------------------

TASK_HISTORY = 5
_CURRENT = (t.TaskState.RUNNING, t.TaskState.READY, t.TaskState.ACCEPTED)
_UPDATE_COMPLETED = "update completed"


def _is_current(task: t.Task) -> bool:
    return task.desired_state in _CURRENT


def _place(task: t.Task) -> Tuple[int, str]:
    # Slots sort before nodes: (0, slot) for a replicated service's task.
    return (task.slot, "") if task.slot is not None else (-1, task.node_id)


@dataclass
class ServiceModel:
    """One service and how scale and redeploy change it (``sme_model::swarm``)."""

    service: t.Service
    nodes: List[str]
    failing: bool = False
    starts_after_ms: int = 0
    stops_after_ms: int = 0
    pending: List[Tuple[str, int, bool]] = field(default_factory=list)  # task, at, stopping
    update_task: Optional[str] = None
    made: int = 0

    @classmethod
    def deploy(cls, name: str, replicas: Optional[int], created_ms: int, *, started_ms: Optional[int] = None,
               image: str = "busybox:latest", nodes: int = 1, labels: Optional[List[Tuple[str, str]]] = None,
               version: int = 11, failing: bool = False, starts_after_ms: int = 0,
               stops_after_ms: int = 0, index: int = 0) -> "ServiceModel":
        mode = t.Mode.REPLICATED if replicas is not None else t.Mode.GLOBAL
        service = t.Service(f"s{index:024d}", name, image, mode, replicas, 0, 0, [], t.UpdateState.NONE, "",
                            sorted(labels or []), version, created_ms, created_ms)
        model = cls(service, [f"node{n:021d}" for n in range(max(nodes, 1))], failing)
        model._fill(created_ms if started_ms is None else started_ms)
        model.starts_after_ms, model.stops_after_ms = starts_after_ms, stops_after_ms
        model._recount()
        return model

    def at(self, now_ms: int) -> t.Service:
        """The service as it stands at ``now_ms`` (a copy)."""
        self._settle(now_ms)
        s = self.service
        return replace(s, tasks=[replace(k) for k in s.tasks], labels=list(s.labels))

    def scale(self, replicas: int, labels: List[Tuple[str, Optional[str]]], now_ms: int) -> bool:
        s = self.service
        if s.mode == t.Mode.GLOBAL:
            raise t.InvalidArgument(
                f"service {s.name} is global: it runs one task per node and has no replica count to scale")
        self._settle(now_ms)
        current = dict(s.labels)
        check_total(s.name, current, labels)
        if s.replicas == replicas and all(current.get(k) == v for k, v in labels):
            return False
        for key, value in labels:
            current.pop(key, None)
            if value is not None:
                current[key] = value
        s.labels = sorted(current.items())
        s.replicas = replicas
        self._updated(now_ms)
        for place in self._current()[replicas:]:
            self._retire(place, t.TaskState.REMOVE, now_ms)
        self._fill(now_ms)
        self._settle(now_ms)
        return True

    def redeploy(self, now_ms: int) -> None:
        self._settle(now_ms)
        self._updated(now_ms)
        self.update_task = None
        delayed = self.starts_after_ms > 0 or self.stops_after_ms > 0
        for place in self._current():
            self._retire(place, t.TaskState.SHUTDOWN, now_ms)
            task_id = self._add(place[0], place[1], now_ms)
            if delayed:
                self.update_task = self.update_task or task_id
                self.service.update_state, self.service.update_message = t.UpdateState.UPDATING, "update in progress"
                continue
            if self.failing:
                self._end_update(task_id)
                self._recount()
                return
            self._end_update(None)
        self._settle(now_ms)

    def container_name(self, task: t.Task) -> str:
        place = task.slot if task.slot is not None else task.node_id
        return f"{self.service.name}.{place}.{task.id}"

    def _updated(self, now_ms: int) -> None:
        s = self.service
        current = {_place(k) for k in s.tasks if _is_current(k)}
        s.tasks = [k for k in s.tasks if _place(k) in current or k.slot is None or s.replicas is None
                   or k.slot <= s.replicas]
        s.version += 1
        s.updated_ms = now_ms
        s.update_state, s.update_message = t.UpdateState.NONE, ""

    def _current(self) -> List[Tuple[Optional[int], str]]:
        places: Dict[Tuple[int, str], Tuple[Optional[int], str]] = {}
        for k in self.service.tasks:
            if _is_current(k):
                places[_place(k)] = (k.slot, k.node_id)
        return [places[key] for key in sorted(places)]

    def _fill(self, now_ms: int) -> None:
        current = self._current()
        if self.service.replicas is None:
            wanted = [(None, node) for node in self.nodes]
        else:
            taken = {slot for slot, _ in current}
            missing = max(self.service.replicas - len(current), 0)
            wanted, slot = [], 1
            while len(wanted) < missing:
                if slot not in taken:
                    wanted.append((slot, self.nodes[(slot - 1) % len(self.nodes)]))
                slot += 1
        for slot, node in wanted:
            if not any(s == slot and (slot is not None or n == node) for s, n in current):
                self._add(slot, node, now_ms)

    def _retire(self, place: Tuple[Optional[int], str], desired: t.TaskState, now_ms: int) -> None:
        s = self.service
        for index, k in enumerate(s.tasks):
            if _is_current(k) and k.slot == place[0] and k.node_id == place[1]:
                break
        else:
            return
        task = s.tasks.pop(index)
        self.pending = [p for p in self.pending if p[0] != task.id]
        task.desired_state = desired
        if task.state == t.TaskState.RUNNING and self.stops_after_ms > 0:
            self.pending.append((task.id, now_ms + self.stops_after_ms, True))
            s.tasks.insert(0, task)
            return
        if desired == t.TaskState.REMOVE:
            return
        _shut_down(task, now_ms)
        s.tasks.insert(0, task)

    def _add(self, slot: Optional[int], node: str, now_ms: int) -> str:
        task = self._task(slot, node, now_ms)
        task.container_id = f"{task.id:0>64}"
        self.service.tasks.insert(0, task)
        if self.starts_after_ms > 0:
            task.state, task.message = t.TaskState.STARTING, "starting"
            self.pending.append((task.id, now_ms + self.starts_after_ms, False))
        else:
            self._run_or_fail(task, now_ms)
        here = _place(task)
        kept, tasks = 0, []
        for k in self.service.tasks:
            if _place(k) == here:
                kept += 1
                if kept > TASK_HISTORY and not _is_current(k):
                    continue
            tasks.append(k)
        self.service.tasks = tasks
        return task.id

    def _run_or_fail(self, task: t.Task, now_ms: int) -> None:
        task.state, task.message, task.updated_ms = t.TaskState.RUNNING, "started", now_ms
        if not self.failing:
            return
        task.desired_state, task.state = t.TaskState.SHUTDOWN, t.TaskState.FAILED
        task.err, task.exit_code = "task: non-zero exit (1)", 1
        retry = self._task(task.slot, task.node_id, now_ms)
        retry.desired_state = retry.state = t.TaskState.READY
        retry.message = "prepared"
        self.service.tasks.insert(0, retry)

    def _task(self, slot: Optional[int], node: str, now_ms: int) -> t.Task:
        self.made += 1
        task_id = f"t{self.service.id[1:5]}{self.made:020d}"
        return t.Task(task_id, node, slot, t.TaskState.RUNNING, t.TaskState.RUNNING, "started", None, None, None,
                      now_ms)

    def _settle(self, now_ms: int) -> None:
        due = sorted((p for p in self.pending if p[1] <= now_ms), key=lambda p: p[1])
        self.pending = [p for p in self.pending if p[1] > now_ms]
        for task_id, at, stopping in due:
            found = [k for k in self.service.tasks if k.id == task_id]
            if not found:
                continue
            task = found[0]
            if not stopping:
                self._run_or_fail(task, at)
            elif task.desired_state == t.TaskState.REMOVE:
                self.service.tasks.remove(task)
            else:
                _shut_down(task, at)
        if self.service.update_state == t.UpdateState.UPDATING and not self.pending:
            first, self.update_task = self.update_task, None
            self._end_update(first)
        self._recount()

    def _end_update(self, failed: Optional[str]) -> None:
        s = self.service
        if failed is not None and self.failing:
            s.update_state = t.UpdateState.PAUSED
            s.update_message = f"update paused due to failure or early termination of task {failed}"
        else:
            s.update_state, s.update_message = t.UpdateState.COMPLETED, _UPDATE_COMPLETED

    def _recount(self) -> None:
        s = self.service
        s.running_tasks = sum(k.state == t.TaskState.RUNNING for k in s.tasks)
        s.desired_tasks = s.replicas if s.replicas is not None else sum(
            k.desired_state == t.TaskState.RUNNING for k in s.tasks)
        s.tasks.sort(key=lambda k: -k.updated_ms)


def _shut_down(task: t.Task, at_ms: int) -> None:
    if task.state == t.TaskState.RUNNING:
        task.exit_code = 0
    task.state, task.message, task.updated_ms = t.TaskState.SHUTDOWN, "shutdown", at_ms


# systemd units --------------------------------------------------------------

#: The unit types systemd knows, as name suffixes.
UNIT_TYPES = ("service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice",
              "scope")
#: Longest unit name systemd accepts.
MAX_UNIT_NAME = 255
_UNIT_PREFIX_BYTES = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.")

#: The signals whose death systemd counts as a clean exit of a service
#: (SIGHUP, SIGINT, SIGPIPE, SIGTERM).
CLEAN_SIGNALS = (1, 2, 13, 15)
#: The D-Bus error systemd answers a start of a masked unit with.
MASKED_ERROR = "org.freedesktop.systemd1.UnitMasked"
#: What a unit's process does when started: runs until stopped, or exits
#: with an error status as it starts (a ``Type=oneshot`` unit running ``/bin/false``).
RUNS, FAILS = "runs", "fails"


def is_unit_name(name: str) -> bool:
    """A unit name SME sends: a prefix of ASCII letters, digits and ``:-_.``,
    then one unit-type suffix, at most 255 bytes; no instances (``@``) or
    escapes."""
    prefix, dot, suffix = name.rpartition(".")
    data = prefix.encode()
    return (bool(dot) and len(name.encode()) <= MAX_UNIT_NAME and bool(data) and suffix in UNIT_TYPES
            and all(b in _UNIT_PREFIX_BYTES for b in data))


def check_unit_name(name: str) -> None:
    """Refuses ``name`` as the runtime does when it is not a unit name it sends."""
    if not is_unit_name(name):
        raise t.UnitInvalidArgument(f"{_quoted(name)} is not a valid unit name")


def unit_not_found(name: str) -> str:
    """The runtime's text for a unit systemd does not know."""
    return f"Unit {name} not found."


@dataclass
class UnitState:
    """A unit's state, as systemd reports it (``sme_model::units::State``)."""

    load_state: str
    active_state: str
    sub_state: str
    result: str
    #: Whether a main process runs (``MainPID`` is not 0).
    running: bool


@dataclass
class UnitModel:
    """One simulated unit and how start, stop, restart and kill change it, as
    systemd's manager does (``sme_model::units::UnitModel``)."""

    name: str
    behaviour: str = RUNS
    masked: bool = False
    state: UnitState = field(default_factory=lambda: UnitState("loaded", "inactive", "dead", "success", False))

    def __post_init__(self) -> None:
        if self.masked:
            self.state.load_state = "masked"

    def start(self) -> str:
        """``StartUnit``: the job's result; raises :class:`~sme_guest.types.Refused` for a masked unit."""
        self.refuse_if_masked()
        if self.behaviour == RUNS:
            self.run()
            return "done"
        self.settle("failed", "failed", "exit-code", False)
        return "failed"

    def stop(self) -> str:
        """``StopUnit``: the job's result. Only an active unit changes."""
        if self.state.active_state == "active":
            self.settle("inactive", "dead", "success", False)
        return "done"

    def restart(self) -> str:
        """``RestartUnit``: the job's result; a masked unit is refused before anything changes."""
        self.refuse_if_masked()
        self.stop()
        return self.start()

    def kill(self, signal: int) -> None:
        """``KillUnit`` with ``signal``: a running process dies, cleanly (inactive)
        for one of :data:`CLEAN_SIGNALS`, else failed with result ``signal``."""
        if not self.state.running:
            return
        if signal in CLEAN_SIGNALS:
            self.settle("inactive", "dead", "success", False)
        else:
            self.settle("failed", "failed", "signal", False)

    def run(self) -> None:
        """Its process runs."""
        self.settle("active", "running", "success", True)

    def settle(self, active_state: str, sub_state: str, result: str, running: bool) -> None:
        """Moves the unit to a state; its load state stays."""
        self.state = UnitState(self.state.load_state, active_state, sub_state, result, running)

    def refuse_if_masked(self) -> None:
        """Raises systemd's refusal of a job on a masked unit."""
        if self.masked:
            raise t.Refused(t.Refusal(MASKED_ERROR, f"Unit {self.name} is masked."))
