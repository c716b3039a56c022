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
stats request per service). It records the peak RSS of every sme process,
prints medians, p95s and ratios, and writes everything to a JSON file. Standard library only; run it through `bench/run`.
"""

import argparse
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
        # Whether names are Swarm services ([swarm] mode = "on").
        self.swarm = False
        self.floors = {}
        self.rss = {}

    def env(self, variant):
        env = dict(self.base_env, SME_POLICY_DIR=os.path.join(self.work, "empty"))
        if self.swarm:
            env.update(SME_CONFIG=os.path.join(self.work, "swarm.toml"))
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
            self.rss.setdefault(variant, []).append(rss)
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


def summary(values):
    ordered = sorted(values)
    return {
        "median_ms": statistics.median(ordered) * 1000,
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
    args = parser.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    image = subprocess.run([os.path.join(root, "scripts/test-image")], capture_output=True, check=True, text=True).stdout.strip()
    bench = Bench(root, image, os.path.join(root, "target/release/sme"), args.runs)
    results = {"scenarios": [], "concurrent": [], "fan_out": []}
    if not args.swarm_only:
        containers(bench, image, args, results)
    swarm = None if args.fan_out_only else swarm_scenario(bench, image)
    if swarm:
        results["scenarios"].append(swarm)

    results["peak_rss_kib"] = {variant: max(values) for variant, values in bench.rss.items()}
    results["machine"] = {"cpus": os.cpu_count(), "docker": subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True).stdout.strip()}
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
    lines += ["", "| sme runs | peak RSS MiB |", "|---|---:|"]
    for variant, kib in results["peak_rss_kib"].items():
        lines.append(f"| {variant} | {kib / 1024:.1f} |")
    lines += ["", f"machine: {results['machine']['cpus']} CPUs, Docker Engine {results['machine']['docker']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
