#!/usr/bin/env python3
"""The static (musl) build against the glibc build, and the executors'
footprint on a small gateway. Standard library only; run it through
`bench/static`.

Part 1, side by side: for each row, the two builds run in alternating order
(glibc, static, glibc, ...), and the medians and peak RSS are compared.

  process start   `sme` with no arguments (the reference's usage error)
  no-op stop      the built-in stop of a container already stopped
  metrics         the built-in metrics of a running container, with a CPU
                  reading kept from a run 2 s before (as an agent polling)
  first compile   the default stop policy as a file, with an empty cache:
                  Cranelift compiles it (allocation-heavy work)
  python stop     the example Python stop (18 MiB), pinned and precompiled
                  by `smectl install`, on a container already stopped

Part 2, footprint: 20 executors at once, as the agent starts one per service,
each stopping its own running container: the built-in stop, then the Python
stop from the cache. Every process's /proc/<pid>/smaps_rollup is sampled
while they run; the report gives the largest total PSS seen at one instant
(the memory that really adds up: shared pages, such as the mapped artifact
and the page cache of the policy file, count once across processes), and the
largest single RSS.
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

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
BUILDS = {
    "glibc": os.path.join(ROOT, "target/release"),
    "static": os.path.join(ROOT, "target/x86_64-unknown-linux-musl/release"),
}
COLLECTOR_SETTLE = 1.2
AGENT_POLL = 2.0
CONCURRENT = 20


def run(argv, env):
    """Runs a command; returns (seconds, exit code, output, peak RSS in KiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, os.waitstatus_to_exitcode(status), out, usage.ru_maxrss


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def container(image, name, running):
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    docker("create", "--name", name, image)
    if running:
        docker("start", name)
        while b"ready" not in subprocess.run(["docker", "logs", name], capture_output=True).stdout:
            time.sleep(0.02)


class Work:
    """Configurations and directories under target/ (SME refuses /tmp)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sme-static-bench-", dir=os.path.join(ROOT, "target"))
        os.chmod(self.dir, 0o755)

    def config(self, name, policy_dir, cache_dir, state_dir):
        path = os.path.join(self.dir, f"{name}.toml")
        with open(path, "w") as f:
            f.write(f'policy_dir = "{policy_dir}"\ncache_dir = "{cache_dir}"\nstate_dir = "{state_dir}"\n')
        return path

    def sub(self, *parts):
        path = os.path.join(self.dir, *parts)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def env(self, config):
        env = dict(os.environ, SME_CONFIG=config)
        for key in ("SME_POLICY_DIR", "SME_CACHE_DIR", "SME_STATE_DIR", "SME_LOG"):
            env.pop(key, None)
        return env


def peak_rss(argv, env):
    """The peak RSS of one run in KiB, through GNU time: a child forked from
    this Python process would count the parent's pages it had before exec."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], env=env, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def side_by_side(runs, make_case, expect):
    """Times `make_case(build)` for each build, alternating, checking each
    run's exit code; then takes the peak RSS of three more runs. Returns per
    build the durations and peak RSS."""
    results = {build: {"ms": [], "rss_kib": []} for build in BUILDS}
    for index in range(runs + 3):
        for build in BUILDS:
            argv, env, before = make_case(build)
            if before:
                before()
            if index >= runs:
                results[build]["rss_kib"].append(peak_rss(argv, env))
                continue
            seconds, code, out, _ = run(argv, env)
            if code != expect:
                sys.exit(f"{build}: {argv} exited {code}, not {expect}: {out!r}")
            results[build]["ms"].append(seconds * 1000)
    return results


def pss_sampler(pids):
    """Samples the PSS and RSS of `pids` until they have all exited; returns
    (largest total PSS at one instant in KiB, largest single RSS in KiB)."""
    peak_total, peak_rss = 0, 0
    alive = set(pids)
    while alive:
        total = 0
        for pid in list(alive):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    fields = {words[0][:-1]: int(words[1]) for words in map(str.split, f)
                              if len(words) == 3 and words[0].endswith(":")}
                total += fields["Pss"]
                peak_rss = max(peak_rss, fields["Rss"])
            except (FileNotFoundError, ProcessLookupError, KeyError, ValueError):
                alive.discard(pid)
        peak_total = max(peak_total, total)
    return peak_total, peak_rss


def concurrent(sme, env, names, op="stop"):
    processes = [subprocess.Popen([sme, name, op], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for name in names]
    peak_pss, peak_rss = pss_sampler([p.pid for p in processes])
    outputs = [p.communicate()[0] for p in processes]
    failed = [o for p, o in zip(processes, outputs) if p.returncode != 0]
    if failed:
        sys.exit(f"concurrent {op} failed: {failed[0]!r}")
    return peak_pss, peak_rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="alternating runs per build and row (21)")
    parser.add_argument("--output", default=None, help="JSON results file")
    args = parser.parse_args()

    image = subprocess.run([os.path.join(ROOT, "scripts/test-image")], capture_output=True,
                           text=True, check=True).stdout.strip()
    work = Work()
    prefix = f"sme-static-bench-{os.getpid()}"
    stopped, running = f"{prefix}-stopped", f"{prefix}-running"
    container(image, stopped, False)
    container(image, running, True)
    names = [f"{prefix}-{i}" for i in range(CONCURRENT)]
    smes = {build: os.path.join(path, "sme") for build, path in BUILDS.items()}
    smectl = os.path.join(BUILDS["static"], "smectl")
    try:
        empty = work.sub("empty")
        builtin = {build: work.config(f"builtin-{build}", empty, work.sub(f"cache-{build}"),
                                      work.sub(f"state-{build}")) for build in BUILDS}
        rows = {}

        rows["process start"] = side_by_side(
            args.runs, lambda b: ([smes[b]], work.env(builtin[b]), None), expect=1)
        rows["no-op stop"] = side_by_side(
            args.runs, lambda b: ([smes[b], stopped, "stop"], work.env(builtin[b]), None), expect=0)

        def metrics(build):
            env = work.env(builtin[build])

            def keep_reading():
                run([smes[build], running, "metrics"], env)
                time.sleep(AGENT_POLL)
            return [smes[build], running, "metrics"], env, keep_reading
        rows["metrics"] = side_by_side(args.runs, metrics, expect=0)

        stop_wasm = os.path.join(ROOT, "target/guests/wasm32-wasip2/release/stop.wasm")
        files = work.sub("files")
        shutil.copy(stop_wasm, files)
        counter = iter(range(10**6))

        def first_compile(build):
            cache = work.sub("cold", str(next(counter)))
            config = work.config("cold", files, cache, work.sub("state-cold"))
            return [smes[build], stopped, "stop"], work.env(config), None
        rows["first compile"] = side_by_side(args.runs, first_compile, expect=0)

        python_dir = work.sub("python")
        python = {}
        for build in BUILDS:
            python[build] = work.config(f"python-{build}", python_dir, work.sub(f"python-cache-{build}"),
                                        work.sub(f"python-state-{build}"))
            ctl = os.path.join(BUILDS[build], "smectl")
            subprocess.run([ctl, "install", os.path.join(ROOT, "target/python-policies/stop.wasm"),
                            "--as", "stop"], env=work.env(python[build]), check=True, capture_output=True)
        # Digest records are kept only for files changed at least 2 s ago.
        time.sleep(2.5)
        rows["python stop"] = side_by_side(
            args.runs, lambda b: ([smes[b], stopped, "stop"], work.env(python[b]), None), expect=0)

        report = {"runs": args.runs, "rows": {}, "footprint": {}}
        print(f"{'':16}{'glibc ms':>10}{'static ms':>11}{'ratio':>8}{'glibc RSS':>11}{'static RSS':>12}")
        for row, results in rows.items():
            med = {b: statistics.median(results[b]["ms"]) for b in BUILDS}
            rss = {b: max(results[b]["rss_kib"]) / 1024 for b in BUILDS}
            ratio = med["static"] / med["glibc"]
            report["rows"][row] = {"median_ms": med, "peak_rss_mib": rss, "static_vs_glibc": ratio,
                                   "runs": results}
            print(f"{row:16}{med['glibc']:>10.2f}{med['static']:>11.2f}{ratio:>7.2f}x"
                  f"{rss['glibc']:>9.1f}Mi{rss['static']:>10.1f}Mi")
        for build in BUILDS:
            py, bi = report["rows"]["python stop"]["median_ms"][build], report["rows"]["no-op stop"]["median_ms"][build]
            print(f"{build}: cached Python stop / built-in stop = {py / bi:.2f}x")

        print(f"\n{CONCURRENT} executors at once, each stopping its own running container:")
        for build in BUILDS:
            for label, config in (("built-in stop", builtin[build]), ("python stop", python[build])):
                for name in names:
                    container(image, name, True)
                pss, rss = concurrent(smes[build], work.env(config), names)
                report["footprint"][f"{build} {label}"] = {"peak_total_pss_mib": pss / 1024,
                                                           "peak_rss_mib": rss / 1024}
                print(f"  {build:7}{label:15} total PSS {pss / 1024:7.1f} MiB   largest RSS {rss / 1024:6.1f} MiB")
        sizes = {build: os.path.getsize(smes[build]) for build in BUILDS}
        report["binary_bytes"] = sizes
        print("\nsme size: " + ", ".join(f"{b} {s / 2**20:.1f} MiB" for b, s in sizes.items()))
        if args.output:
            with open(args.output, "w") as f:
                json.dump(report, f, indent=1)
    finally:
        for name in [stopped, running, *names]:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        shutil.rmtree(work.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
