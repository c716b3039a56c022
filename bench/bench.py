#!/usr/bin/env python3
"""SME against what users have today, on the real daemon.

For each operation, and for a container already in the operation's target
state and one that is not, it times in alternating order:

  sme built-in      the binary's precompiled default policy
  sme warm cache    the same policy as a file, its compiled artifact cached
  sme cold cache    the same file with an empty cache (Cranelift compiles it)
  docker CLI        what the reference executor runs: `docker <op> X` then
                    `docker inspect X`; `docker stats X --no-stream --format ...`
  curl floor        the Engine API requests sme makes, from one curl process

On a Docker Swarm service ([swarm] mode = "on") it times the stop of a service
already scaled to zero (sme's fast path: an inspection of the service and its
tasks, no update) against the curl floor of the same two requests; the daemon
is put in a swarm for this only when it is in none, and left as it was found.

It then runs 50 invocations at once on 50 containers (sme, the docker CLI and
the curl floor alike), and the agent's metrics request for N services (N = 1,
5, 20, 50): N executors started at once, timed until the last is done, for sme
with a CPU reading kept by the agent's previous request 2 s earlier, sme with
none, `docker stats --no-stream` per service, and the curl floor (one one-shot
stats request per service).

With --budgets-only, it times a stop of an already stopped container with
and without an effect budget ([budgets], docs/budgets.md; the budget's check
is one locked read and one rename in the state directory), beside the docker
CLI and the curl floor, then starts 50 restarts of one container at once
under a budget of 3 and counts how many went through.

Last, on systemd units ([systemd] mode = "on"), against a systemd booted in a
container as tests/all/systemd.rs boots it (scripts/systemd-image), its bus
reached through a bind-mounted /run/dbus, it times in alternating order:

  sme built-in      `sme <svc> stop` of an inactive unit (StopUnit, waiting for
                    systemd's job); `sme <svc> metrics` of a running unit (its
                    second and later runs use a kept CPU reading)
  systemctl         `systemctl stop <unit>` (waits for the job too);
                    `systemctl show -p CPUUsageNSec -p MemoryCurrent
                    -p TasksCurrent <unit>`, with DBUS_SYSTEM_BUS_ADDRESS set
                    to that bus (see booted_view for why it needs a namespace)
  busctl floor      the same D-Bus calls from one busctl process: StopUnit,
                    which answers with the job and does not wait for it;
                    get-property of the three properties on the unit's object

It records the peak RSS of every sme process, prints medians, p95s (p90s for
units) and ratios, and writes everything to a JSON file. Standard library
only; run it through `bench/run`.
"""

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

SOCKET = "/var/run/docker.sock"
API = "http://localhost/v1.41"
STATS_FORMAT = (
    '{{ .CPUPerc }};{{ .MemUsage }};{"cpu_perc":"{{ .CPUPerc }}","mem_usage":"{{ .MemUsage }}",'
    '"mem_perc":"{{ .MemPerc }}","net_io":"{{ .NetIO }}","block_io":"{{ .BlockIO }}",'
    '"pids":"{{ .PIDs }}"}'
)
# The daemon's stats collector sleeps a second after each round it serves;
# a stats request arriving during that sleep waits for the next round. The
# agent asks for metrics seconds apart, so each metrics run starts with an
# idle collector, for every variant alike.
COLLECTOR_SETTLE = 1.2
# How long before a timed metrics run the agent last asked, for the scenario
# that models an agent polling every few seconds.
AGENT_POLL = 2.0
# The systemd units case: the agent's service names as they are, as unit
# names (a native install), on the booted systemd's bus.
UNIT_STOPPED = "edgex-bench-stopped"
UNIT_RUNNING = "edgex-bench-running"
UNIT_SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"
UNIT_PROPERTIES = ("CPUUsageNSec", "MemoryCurrent", "TasksCurrent")
# A kept CPU reading serves a unit's metrics only once it is 200 ms old
# (MIN_WINDOW, runtime/src/host/stats/history.rs), else sme reads twice
# 250 ms apart (cpu_sample_ms). Each metrics run waits this long first, for
# every variant alike, so sme's previous run left a reading that serves.
UNIT_PAUSE = 0.3
UNIT_SAMPLE = 0.25
CLONE_NEWNS = 0x00020000
UNIT_NOTES = {
    "stop": "sme and systemctl wait for systemd's job (JobRemoved); busctl's StopUnit answers with the job "
            "and does not wait for it: the floor. systemctl ran in a private mount namespace with an empty "
            "/run/systemd/system and no /run/systemd/private (booted_view); every variant ran there alike.",
    "metrics": "sme's second and later runs use the CPU reading its previous run kept (at least 0.3 s earlier); "
               "systemctl show and busctl get-property read the three properties only, no CPU %.",
}


def spawn(argv, env=None):
    """Starts a command; returns (start time, process)."""
    started = time.perf_counter()
    return started, subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(started, process):
    """Waits for a command; returns (seconds, exit code, output, peak RSS in KiB)."""
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, process.returncode, out, usage.ru_maxrss


def run(argv, env=None):
    """Runs a command; returns (seconds, exit code, output, peak RSS in KiB)."""
    return finish(*spawn(argv, env))


def docker(*args):
    subprocess.run(["docker", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(name):
    while b"ready" not in subprocess.run(["docker", "logs", name], capture_output=True).stdout:
        time.sleep(0.02)


class Bench:
    def __init__(self, root, image, sme, runs):
        self.root, self.image, self.sme, self.runs = root, image, sme, runs
        # Under the checkout, not /tmp: SME refuses configuration and policy
        # directories on paths other users can change (docs/security.md).
        self.work = tempfile.mkdtemp(prefix="sme-bench-", dir=os.path.join(root, "target"))
        self.policies = os.path.join(self.work, "policies")
        os.makedirs(self.policies)
        guests = os.path.join(root, "target/guests/wasm32-wasip2/release")
        for op in ("start", "stop", "restart", "metrics"):
            shutil.copy(os.path.join(guests, f"{op}.wasm"), self.policies)
        self.base_env = dict(
            os.environ,
            SME_CONFIG=os.path.join(self.work, "none.toml"),
            SME_STATE_DIR=os.path.join(self.work, "state"),
        )
        open(self.base_env["SME_CONFIG"], "w").close()
        with open(os.path.join(self.work, "swarm.toml"), "w") as f:
            f.write('[swarm]\nmode = "on"\n')
        # Budgets no timed run exhausts: each run pays the check and the spend.
        with open(os.path.join(self.work, "budgets.toml"), "w") as f:
            f.write("[budgets]\n" + "".join(f'{op} = {{ max = 1000, per = "10m" }}\n' for op in ("start", "stop", "restart")))
        # Whether names are Swarm services ([swarm] mode = "on").
        self.swarm = False
        # The booted systemd while names are units ([systemd] mode = "on").
        self.units = None
        self.floors = {}
        self.rss = {}

    def env(self, variant):
        env = dict(self.base_env, SME_POLICY_DIR=os.path.join(self.work, "empty"))
        if self.swarm:
            env.update(SME_CONFIG=os.path.join(self.work, "swarm.toml"))
        if self.units:
            env.update(SME_CONFIG=os.path.join(self.work, "units.toml"))
            if variant == "systemctl":
                env.update(DBUS_SYSTEM_BUS_ADDRESS=self.units.bus)
        if variant == "sme budgeted":
            env.update(SME_CONFIG=os.path.join(self.work, "budgets.toml"))
        if variant == "sme warm cache":
            env.update(SME_POLICY_DIR=self.policies, SME_CACHE_DIR=os.path.join(self.work, "cache"))
        elif variant == "sme cold cache":
            env.update(SME_POLICY_DIR=self.policies, SME_CACHE_DIR=tempfile.mkdtemp(dir=self.work))
        else:
            env.update(SME_CACHE_DIR=os.path.join(self.work, "cache-builtin"))
        return env

    def command(self, variant, op, name):
        if variant.startswith("sme"):
            return [self.sme, name, op]
        if self.units:
            return self.units.command(variant, op, name)
        if variant == "curl floor" and self.swarm:
            if name not in self.floors:
                self.floors[name] = swarm_floor(name)
            return self.floors[name]
        if variant == "docker CLI":
            if op == "metrics":
                return ["docker", "stats", name, "--no-stream", "--format", STATS_FORMAT]
            return ["sh", "-c", f'docker {op} "$1" >/dev/null && docker inspect "$1"', "sh", name]
        # curl floor: the requests sme makes (the operation, then an inspection;
        # for metrics an inspection, then a one-shot sample), from one process.
        if op == "metrics":
            first = ["-s", "-o", "/dev/null", "--unix-socket", SOCKET, f"{API}/containers/{name}/json"]
            second = ["-s", "--unix-socket", SOCKET, f"{API}/containers/{name}/stats?stream=false&one-shot=true"]
        else:
            first = ["-s", "-o", "/dev/null", "-X", "POST", "--unix-socket", SOCKET, f"{API}/containers/{name}/{op}"]
            second = ["-s", "--unix-socket", SOCKET, f"{API}/containers/{name}/json"]
        return ["curl", *first, "--next", *second]

    def measure(self, variant, op, name):
        elapsed, code, out, rss = run(self.command(variant, op, name), self.env(variant))
        if code != 0:
            raise SystemExit(f"{variant} {op} {name} failed ({code}): {out[:200]!r}")
        if variant.startswith("sme"):
            self.rss.setdefault(f"{variant}, unit {op}" if self.units else variant, []).append(rss)
        return elapsed

    def scenario(self, op, state, prepare, name, variants):
        samples = {v: [] for v in variants}
        for i in range(self.runs):
            order = variants[i % len(variants):] + variants[: i % len(variants)]
            for variant in order:
                prepare()
                samples[variant].append(self.measure(variant, op, name))
        return samples


def swarm_floor(service):
    """The requests sme makes to find a service stopped: the service, then its
    tasks, filtered by the ID the first answer gives (looked up here, untimed,
    beforehand)."""
    service_id = subprocess.run(["docker", "service", "inspect", "-f", "{{.ID}}", service],
                                capture_output=True, check=True, text=True).stdout.strip()
    filters = urllib.parse.quote(json.dumps({"service": [service_id]}, separators=(",", ":")))
    first = ["-s", "-o", "/dev/null", "--unix-socket", SOCKET, f"{API}/services/{service}"]
    second = ["-s", "--unix-socket", SOCKET, f"{API}/tasks?filters={filters}"]
    return ["curl", *first, "--next", *second]


def swarm_state():
    return subprocess.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
                          capture_output=True, check=True, text=True).stdout.strip()


def swarm_scenario(bench, image):
    """Times `sme <service> stop` on a service already scaled to zero against the
    curl floor of its two requests; None when the daemon's swarm is neither on
    nor off. A swarm is made only when there is none, and left again."""
    state = swarm_state()
    if state not in ("inactive", "active"):
        print(f"skipping the swarm case: the daemon's swarm is {state}", file=sys.stderr)
        return None
    made = state == "inactive"
    if made:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    service = "sme-bench-service"
    try:
        subprocess.run(["docker", "service", "rm", service], capture_output=True)
        docker("service", "create", "--detach", "--quiet", "--name", service, "--replicas", "0",
               "--no-resolve-image", image)
        bench.swarm = True
        variants = ["sme built-in", "sme warm cache", "curl floor"]
        bench.measure("sme warm cache", "stop", service)
        print("timing stop (swarm service already scaled to 0) ...", file=sys.stderr)
        samples = bench.scenario("stop", "service at 0 replicas", lambda: None, service, variants)
        return {"operation": "stop", "state": "Swarm service already at 0 replicas",
                "variants": {v: summary(s) for v, s in samples.items()}}
    finally:
        bench.swarm = False
        subprocess.run(["docker", "service", "rm", service], capture_output=True)
        if made:
            docker("swarm", "leave", "--force")


class Units:
    """A systemd booted as PID 1 of a container, as tests/all/systemd.rs boots
    it (`Host::boot`), its bus reached through a bind-mounted /run/dbus, as
    root on that bus; removed by `remove`."""

    def __init__(self, work, image):
        self.name = f"sme-bench-systemd-{os.getpid()}"
        self.dbus = os.path.join(work, "dbus")
        os.makedirs(self.dbus, exist_ok=True)
        self.bus = f"unix:path={self.dbus}/system_bus_socket"
        self.image = image
        self.paths = {}

    def boot(self):
        args = ["run", "-d", "--name", self.name, "--tmpfs", "/run", "--tmpfs", "/run/lock",
                "--stop-signal", "SIGRTMIN+3", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
                "-v", f"{self.dbus}:/run/dbus"]
        # cgroup v1 with cpu and cpuacct mounted apart: systemd reads a unit's
        # CPU time where it expects the joint hierarchy.
        if os.path.isfile("/sys/fs/cgroup/cpuacct/cpuacct.usage"):
            args += ["-v", "/sys/fs/cgroup/cpuacct:/sys/fs/cgroup/cpu"]
        docker(*args, self.image)
        deadline = time.monotonic() + 30
        while True:
            state = self.sh("systemctl is-system-running || true")
            if state in ("running", "degraded"):
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"systemd did not come up: {state}")
            time.sleep(0.1)

    def sh(self, script):
        return subprocess.run(["docker", "exec", self.name, "sh", "-c", script],
                              capture_output=True, check=True, text=True).stdout.strip()

    def install(self, unit, body):
        """Puts `unit` where packages put units and reloads."""
        self.sh(f"cat > /lib/systemd/system/{unit} <<'EOF'\n{body}\nEOF\nsystemctl daemon-reload")

    def path(self, unit):
        """The unit's object path, looked up (untimed) beforehand; the unit
        must be loaded (a running one is)."""
        if unit not in self.paths:
            out = subprocess.run(["busctl", f"--address={self.bus}", "call", "org.freedesktop.systemd1",
                                  "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "GetUnit", "s", unit],
                                 capture_output=True, check=True, text=True).stdout
            self.paths[unit] = out.split('"')[1]
        return self.paths[unit]

    def command(self, variant, op, service):
        unit = f"{service}.service"
        if variant == "systemctl":
            if op == "metrics":
                return ["systemctl", "show", *(arg for p in UNIT_PROPERTIES for arg in ("-p", p)), unit]
            return ["systemctl", op, unit]
        # busctl floor: the D-Bus call alone; StopUnit answers with the job
        # and busctl does not wait for it.
        busctl = ["busctl", f"--address={self.bus}"]
        if op == "metrics":
            return [*busctl, "get-property", "org.freedesktop.systemd1", self.path(unit),
                    "org.freedesktop.systemd1.Service", *UNIT_PROPERTIES]
        return [*busctl, "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager", "StopUnit", "ss", unit, "replace"]

    def remove(self):
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)


@contextlib.contextmanager
def booted_view():
    """Runs the block in a private mount namespace in which systemctl agrees to
    work. systemctl refuses any system-manager verb unless the machine it runs
    on was booted with systemd (sd_booted(): /run/systemd/system exists),
    before it reads DBUS_SYSTEM_BUS_ADDRESS; and as root it tries systemd's
    private socket, /run/systemd/private, before the bus. A tmpfs over
    /run/systemd holding an empty system/ answers both: systemctl then connects
    to the bus DBUS_SYSTEM_BUS_ADDRESS names (and never to a systemd of this
    machine). Every variant runs in it alike; nothing outside the namespace
    changes, and the block ends back in the original one."""
    libc = ctypes.CDLL(None, use_errno=True)
    cwd = os.getcwd()
    original = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    try:
        if libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
        try:
            # Nothing mounted here propagates back to the machine's namespace.
            subprocess.run(["mount", "--make-rprivate", "/"], check=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=64k", "tmpfs", "/run/systemd"], check=True)
            os.mkdir("/run/systemd/system")
            yield
        finally:
            if libc.setns(original, CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original mount namespace")
            os.chdir(cwd)
    finally:
        os.close(original)


def units_scenarios(bench, root):
    """Times a stop of an inactive unit and the metrics of a running one:
    sme, systemctl and the busctl floor, in alternating order. The systemd
    container is removed whatever happens."""
    # Root: root on systemd's bus, and the mount namespace systemctl needs.
    missing = [tool for tool in ("systemctl", "busctl", "mount") if not shutil.which(tool)]
    missing += [] if os.geteuid() == 0 else ["root"]
    missing += [] if os.path.isdir("/run/systemd") else ["/run/systemd"]
    if missing:
        raise SystemExit(f"the units case needs {', '.join(missing)}")
    image = subprocess.run([os.path.join(root, "scripts/systemd-image")], capture_output=True, check=True, text=True).stdout.strip()
    units = Units(bench.work, image)
    with open(os.path.join(bench.work, "units.toml"), "w") as f:
        f.write(f'[systemd]\nmode = "on"\nunit = "{{service}}.service"\nbus = "{units.bus}"\n')
    variants = ["sme built-in", "systemctl", "busctl floor"]
    entries = []
    try:
        print("booting systemd ...", file=sys.stderr)
        units.boot()
        units.install(f"{UNIT_STOPPED}.service", UNIT_SLEEPER)
        units.install(f"{UNIT_RUNNING}.service", UNIT_SLEEPER)
        units.sh(f"systemctl start {UNIT_RUNNING}.service")
        bench.units = units
        versions = {"systemd": units.sh("systemctl --version | head -n 1"), "systemd image": image,
                    "systemctl (this machine)": subprocess.run(["systemctl", "--version"], capture_output=True, text=True).stdout.splitlines()[0]}
        with booted_view():
            for op, service, state, prepare in (
                ("stop", UNIT_STOPPED, "inactive", lambda: None),
                ("metrics", UNIT_RUNNING, "running (sleep infinity)", lambda: time.sleep(UNIT_PAUSE)),
            ):
                # Warm the cache; for metrics, keep a CPU reading as the
                # agent's earlier requests would have.
                for variant in variants:
                    prepare()
                    bench.measure(variant, op, service)
                print(f"timing {op} (unit {state}) ...", file=sys.stderr)
                samples = bench.scenario(op, state, prepare, service, variants)
                unit = f"{service}.service"
                end = units.sh(f"systemctl is-active {unit} || true")
                if end != ("inactive" if op == "stop" else "active"):
                    raise SystemExit(f"{unit} ended {end} after the {op} runs")
                entry = {"operation": op, "unit": unit, "state": state,
                         "variants": {v: summary(s) for v, s in samples.items()},
                         "commands": {v: " ".join(bench.command(v, op, service)) for v in variants},
                         "notes": UNIT_NOTES[op]}
                entry["commands"]["systemctl"] = f"DBUS_SYSTEM_BUS_ADDRESS={units.bus} {entry['commands']['systemctl']}"
                entry["sme_over_systemctl"] = entry["variants"]["sme built-in"]["median_ms"] / entry["variants"]["systemctl"]["median_ms"]
                entry["sme_over_busctl"] = entry["variants"]["sme built-in"]["median_ms"] / entry["variants"]["busctl floor"]["median_ms"]
                if op == "metrics":
                    # Runs under the 250 ms second read used a kept reading.
                    entry["sme_runs_with_kept_reading"] = sum(t < UNIT_SAMPLE for t in samples["sme built-in"])
                entries.append(entry)
        return {"cases": entries, "versions": versions}
    finally:
        bench.units = None
        units.remove()


def summary(values):
    ordered = sorted(values)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p90_ms": ordered[max(0, int(round(0.90 * len(ordered))) - 1)] * 1000,
        "p95_ms": ordered[max(0, int(round(0.95 * len(ordered))) - 1)] * 1000,
        "runs": len(ordered),
    }


def containers(bench, image, args, results):
    """The container scenarios and the concurrent runs, into `results`."""
    target = "sme-bench-target"
    crowd = [f"sme-bench-{i}" for i in range(args.concurrency)]
    for name in [target, *crowd]:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        docker("run", "-d", "--name", name, image)
    for name in [target, *crowd]:
        wait_ready(name)
    if args.fan_out_only:
        fan_out(bench, crowd, args, results)
        for name in [target, *crowd]:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        return

    def running():
        docker("start", target)
        wait_ready(target)

    def stopped():
        docker("stop", target)

    def settle():
        running()
        time.sleep(COLLECTOR_SETTLE)

    def unpolled():
        # Nobody asked within the window: sme measures as docker does.
        settle()
        shutil.rmtree(os.path.join(bench.work, "state"), ignore_errors=True)

    def polled():
        # The agent polls every few seconds: its previous request, 2 s
        # earlier, left a CPU reading inside the 5 s window (cpu_window_ms).
        running()
        bench.measure("sme built-in", "metrics", target)
        time.sleep(AGENT_POLL)

    variants = ["sme built-in", "sme warm cache", "sme cold cache", "docker CLI", "curl floor"]
    # Warm the cache and keep a CPU reading, as earlier runs would have.
    for op in ("metrics", "start", "restart", "stop"):
        bench.measure("sme warm cache", op, target)
    scenarios = [
        ("stop", "already stopped", stopped),
        ("stop", "running", running),
        ("start", "already running", running),
        ("start", "stopped", stopped),
        ("restart", "running", running),
        ("restart", "stopped", stopped),
        ("metrics", "running, polled 2 s earlier", polled),
        ("metrics", "running, no reading in the window", unpolled),
    ]
    for op, state, prepare in scenarios:
        print(f"timing {op} ({state}) ...", file=sys.stderr)
        samples = bench.scenario(op, state, prepare, target, variants)
        results["scenarios"].append({"operation": op, "state": state, "variants": {v: summary(s) for v, s in samples.items()}})

    # The curl floor runs under the same load too: what any process-per-call
    # executor making these requests gets on this machine, whatever its code.
    concurrent = [(op, prepare_all, tool) for op, prepare_all in (("stop", "stop"), ("metrics", "start"))
                  for tool in ("sme", "docker CLI", "curl floor")]
    for op, prepare_all, tool in concurrent:
        print(f"timing {args.concurrency} concurrent {op} ({tool}) ...", file=sys.stderr)
        for name in crowd:
            docker(prepare_all, name)
        if op == "metrics":
            if tool == "sme":
                for name in crowd:
                    bench.measure("sme built-in", "metrics", name)  # keep a reading, as earlier requests would have
            time.sleep(COLLECTOR_SETTLE)
        variant = "sme built-in" if tool == "sme" else tool
        started = time.perf_counter()
        spawned = [spawn(bench.command(variant, op, name), bench.env(variant)) for name in crowd]
        finished = [finish(*one) for one in spawned]
        times = [elapsed for elapsed, _, _, _ in finished]
        failures = sum(code != 0 for _, code, _, _ in finished)
        if tool == "sme":
            bench.rss.setdefault(f"{len(crowd)} concurrent {op}", []).extend(rss for _, _, _, rss in finished)
        single = next(s for s in results["scenarios"] if s["operation"] == op and s["state"] in ("already stopped", "running, polled 2 s earlier"))
        single_median = single["variants"][variant]["median_ms"]
        entry = {"operation": op, "tool": tool, "n": len(crowd), "failures": failures, **summary(times),
                 "wall_ms": (time.perf_counter() - started) * 1000, "single_median_ms": single_median}
        entry["p95_over_single_median"] = entry["p95_ms"] / single_median
        results["concurrent"].append(entry)
    fan_out(bench, crowd, args, results)
    for name in [target, *crowd]:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def budgets(bench, image, results):
    """A no-op stop with and without a budget, side by side; then 50 restarts
    of one container at once under a budget of 3."""
    target = "sme-bench-budget"
    subprocess.run(["docker", "rm", "-f", target], capture_output=True)
    docker("run", "-d", "--name", target, image)
    wait_ready(target)
    docker("stop", target)
    variants = ["sme built-in", "sme budgeted", "docker CLI", "curl floor"]
    print("timing stop (already stopped) with and without a budget ...", file=sys.stderr)
    samples = bench.scenario("stop", "already stopped", lambda: None, target, variants)
    results["scenarios"].append({"operation": "stop", "state": "already stopped",
                                 "variants": {v: summary(s) for v, s in samples.items()}})

    docker("start", target)
    wait_ready(target)
    three = os.path.join(bench.work, "three.toml")
    with open(three, "w") as f:
        f.write('[budgets]\nrestart = { max = 3, per = "10m" }\n')
    env = dict(bench.env("sme built-in"), SME_CONFIG=three, SME_STATE_DIR=tempfile.mkdtemp(dir=bench.work))
    print("timing 50 concurrent restarts of one container under a budget of 3 ...", file=sys.stderr)
    started = time.perf_counter()
    finished = [finish(*one) for one in [spawn([bench.sme, target, "restart"], env) for _ in range(50)]]
    results["budget_restarts"] = {
        "n": 50, "max": 3,
        "went_through": sum(code == 0 for _, code, _, _ in finished),
        "refused_by_the_budget": sum(code == 1 and b"is spent" in out for _, code, out, _ in finished),
        "wall_ms": (time.perf_counter() - started) * 1000,
    }
    subprocess.run(["docker", "rm", "-f", target], capture_output=True)


FAN_OUT_TOOLS = ["sme, kept reading", "sme, no kept reading", "docker CLI", "curl floor"]


def fan_out(bench, crowd, args, results):
    """The agent's `GET /api/v2/system/metrics?services=...`: one executor per
    service, all started at once; the answer waits for the last. Tools
    alternate in order from run to run; each starts with an idle collector."""
    for name in crowd:
        docker("start", name)
    for name in crowd:
        wait_ready(name)
    sizes = [n for n in args.fan_out if n <= len(crowd)]
    state = os.path.join(bench.work, "state")

    def last_done(tool, names):
        variant = "sme built-in" if tool.startswith("sme") else tool
        started = time.perf_counter()
        spawned = [spawn(bench.command(variant, "metrics", name), bench.env(variant)) for name in names]
        finished = [finish(*one) for one in spawned]
        elapsed = time.perf_counter() - started
        failed = [out[:200] for _, code, out, _ in finished if code != 0]
        if failed:
            raise SystemExit(f"{tool}: {len(failed)} of {len(names)} metrics runs failed: {failed[0]!r}")
        if tool.startswith("sme"):
            bench.rss.setdefault(f"fan-out of {len(names)}", []).extend(rss for _, _, _, rss in finished)
        return elapsed

    for n in sizes:
        names = crowd[:n]
        samples = {tool: [] for tool in FAN_OUT_TOOLS}
        print(f"timing a metrics request for {n} services ...", file=sys.stderr)
        for i in range(args.fan_out_runs):
            order = FAN_OUT_TOOLS[i % len(FAN_OUT_TOOLS):] + FAN_OUT_TOOLS[: i % len(FAN_OUT_TOOLS)]
            for tool in order:
                if tool == "sme, kept reading":
                    # The agent's previous request, AGENT_POLL earlier.
                    last_done(tool, names)
                    time.sleep(AGENT_POLL)
                else:
                    shutil.rmtree(state, ignore_errors=True)
                    time.sleep(COLLECTOR_SETTLE)
                samples[tool].append(last_done(tool, names))
        entry = {"n": n, "tools": {tool: summary(values) for tool, values in samples.items()}}
        results["fan_out"].append(entry)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per variant and scenario")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--output", default=None, help="results file (default target/bench/results-<time>.json)")
    parser.add_argument("--swarm-only", action="store_true", help="time only the Swarm service case")
    parser.add_argument("--fan-out", type=lambda text: [int(n) for n in text.split(",")], default=[1, 5, 20, 50],
                        help="services per metrics request, comma-separated (at most --concurrency)")
    parser.add_argument("--fan-out-runs", type=int, default=5, help="runs per tool and fan-out size")
    parser.add_argument("--fan-out-only", action="store_true", help="time only the metrics requests for N services")
    parser.add_argument("--units-only", action="store_true", help="time only the systemd units case")
    parser.add_argument("--budgets-only", action="store_true", help="time only a stop with and without a budget, and 50 restarts under one")
    parser.add_argument("--sme", default=None, help="the sme binary (default target/release/sme)")
    args = parser.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    image = None
    if not args.units_only:
        image = subprocess.run([os.path.join(root, "scripts/test-image")], capture_output=True, check=True, text=True).stdout.strip()
    bench = Bench(root, image, args.sme or os.path.join(root, "target/release/sme"), args.runs)
    results = {"scenarios": [], "concurrent": [], "fan_out": [], "units": []}
    if args.budgets_only:
        budgets(bench, image, results)
    elif not (args.swarm_only or args.units_only):
        containers(bench, image, args, results)
    swarm = None if args.fan_out_only or args.units_only or args.budgets_only else swarm_scenario(bench, image)
    if swarm:
        results["scenarios"].append(swarm)
    systemd = {}
    if not (args.swarm_only or args.fan_out_only or args.budgets_only):
        units = units_scenarios(bench, root)
        results["units"], systemd = units["cases"], units["versions"]

    results["peak_rss_kib"] = {variant: max(values) for variant, values in bench.rss.items()}
    results["machine"] = {"cpus": os.cpu_count(), "docker": subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True).stdout.strip(), **systemd}
    shutil.rmtree(bench.work, ignore_errors=True)

    print(report(results))
    output = args.output or os.path.join(root, "target/bench", time.strftime("results-%Y%m%d-%H%M%S.json"))
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults written to {output}")


def report(results):
    lines = []
    if results["scenarios"]:
        lines += ["| operation | container | variant | median ms | p95 ms | vs docker CLI | vs curl floor |", "|---|---|---|---:|---:|---:|---:|"]
    for s in results["scenarios"]:
        cli = s["variants"].get("docker CLI", {}).get("median_ms")
        floor = s["variants"]["curl floor"]["median_ms"]
        for variant, v in s["variants"].items():
            vs_cli = f"{v['median_ms'] / cli:.2f}x" if cli else "-"
            lines.append(f"| {s['operation']} | {s['state']} | {variant} | {v['median_ms']:.1f} | {v['p95_ms']:.1f} | {vs_cli} | {v['median_ms'] / floor:.2f}x |")
    if results["concurrent"]:
        lines += ["", "| concurrent | tool | n | failures | p50 ms | p95 ms | single median ms | p95 / single median |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in results["concurrent"]:
        lines.append(f"| {c['operation']} | {c['tool']} | {c['n']} | {c['failures']} | {c['median_ms']:.1f} | {c['p95_ms']:.1f} | {c['single_median_ms']:.1f} | {c['p95_over_single_median']:.1f}x |")
    if results["fan_out"]:
        lines += [""] if lines else []
        lines += ["| metrics request for N services (last executor done) | N | median ms | p95 ms | vs docker CLI | vs curl floor |",
                  "|---|---:|---:|---:|---:|---:|"]
    for f in results["fan_out"]:
        cli = f["tools"]["docker CLI"]["median_ms"]
        floor = f["tools"]["curl floor"]["median_ms"]
        for tool, v in f["tools"].items():
            lines.append(f"| {tool} | {f['n']} | {v['median_ms']:.1f} | {v['p95_ms']:.1f} | {v['median_ms'] / cli:.2f}x | {v['median_ms'] / floor:.2f}x |")
    if results["units"]:
        lines += [""] if lines else []
        lines += ["| operation | unit | variant | median ms | p90 ms | vs systemctl | vs busctl floor |",
                  "|---|---|---|---:|---:|---:|---:|"]
    for u in results["units"]:
        ctl = u["variants"]["systemctl"]["median_ms"]
        floor = u["variants"]["busctl floor"]["median_ms"]
        for variant, v in u["variants"].items():
            lines.append(f"| {u['operation']} | {u['state']} | {variant} | {v['median_ms']:.1f} | {v['p90_ms']:.1f} | {v['median_ms'] / ctl:.2f}x | {v['median_ms'] / floor:.2f}x |")
    if "budget_restarts" in results:
        b = results["budget_restarts"]
        lines.append(f"\n{b['n']} restarts of one container at once under a budget of {b['max']}: "
                     f"{b['went_through']} went through, {b['refused_by_the_budget']} refused by the budget, "
                     f"all done in {b['wall_ms']:.0f} ms")
    for u in results["units"]:
        if "sme_runs_with_kept_reading" in u:
            runs = u["variants"]["sme built-in"]["runs"]
            lines.append(f"\nsme {u['operation']}: {u['sme_runs_with_kept_reading']} of {runs} runs used a kept CPU reading")
    lines += ["", "| sme runs | peak RSS MiB |", "|---|---:|"]
    for variant, kib in results["peak_rss_kib"].items():
        lines.append(f"| {variant} | {kib / 1024:.1f} |")
    machine = results["machine"]
    lines += ["", f"machine: {machine['cpus']} CPUs, Docker Engine {machine['docker']}"]
    if "systemd" in machine:
        lines[-1] += f"; booted {machine['systemd']}, this machine's {machine['systemctl (this machine)']}"
    return "\n".join(lines)


if __name__ == "__main__":
    main()
