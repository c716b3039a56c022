"""Builds a Python policy into an SME component with componentize-py.

Run through ``scripts/python-policy`` (which picks the project's virtual
environment and its pinned componentize-py):

    scripts/python-policy build my_stop.py -o stop.wasm [--world operation|metrics]
    scripts/python-policy build-examples           # policies/python/* (and tests/guests-python/*) -> target/python-policies/

Steps: import the policy with plain CPython (the SDK's fake host answers,
nothing is called) to learn which world it exports and which settings it
declares; write an entry module that adapts the marked function to the
world; run ``componentize-py componentize``; append the settings as the
component's ``sme-settings`` custom section, which the runtime reads without
running the module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SDK = Path(__file__).resolve().parent
ROOT = SDK.parent.parent
WIT = ROOT / "wit"

#: (directory under policies/python, module, output name under target/python-policies).
EXAMPLES = [
    ("stop", "stop", "stop"),
    ("protected-stop", "protected_stop", "protected-stop"),
    ("uptime", "uptime", "uptime"),
    ("backoff-restart", "backoff_restart", "backoff-restart"),
]

#: The tests' hostile Python guests (directory under tests/guests-python,
#: module, output name under target/python-policies), built with the examples.
TEST_GUESTS = [
    ("hog", "hog", "hog"),
]


def describe(policy: Path) -> tuple[str, str]:
    """(world, settings section text) of a policy, by importing it natively."""
    sys.path[:0] = [str(SDK), str(policy.parent)]
    import sme_guest
    from sme_guest import settings

    importlib.import_module(policy.stem)
    if sme_guest._EXPORTED is None:
        raise SystemExit(
            f"python-policy: {policy} exports nothing; mark its function with @operation or @metrics"
        )
    return sme_guest._EXPORTED[0], settings.section()


def leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def custom_section(name: str, data: bytes) -> bytes:
    """A WebAssembly custom section (id 0), valid anywhere in a component."""
    body = leb128(len(name.encode())) + name.encode() + data
    return b"\x00" + leb128(len(body)) + body


def build(policy: Path, out: Path, world: str | None) -> None:
    policy = policy.resolve()
    if policy.suffix != ".py" or not policy.stem.isidentifier():
        raise SystemExit(f"python-policy: {policy} must be a .py file named like a Python module")
    # A fresh interpreter per policy: the SDK records one export per process.
    described = subprocess.run(
        [sys.executable, __file__, "describe", str(policy)], capture_output=True, text=True
    )
    if described.returncode != 0:
        raise SystemExit(described.stderr.strip() or described.stdout.strip())
    kind, _, section = described.stdout.partition("\n")
    if world is not None and world != kind:
        raise SystemExit(f"python-policy: {policy.name} marks a {kind} policy, not {world}")
    work = ROOT / "target" / "python-build" / policy.stem
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "sme_policy_entry.py").write_text(
        f"import {policy.stem}\n"
        "from sme_guest._export import world_class\n"
        f"WitWorld = world_class({kind!r})\n"
    )
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    componentize = Path(sys.executable).parent / "componentize-py"
    started = time.monotonic()
    result = subprocess.run(
        [str(componentize), "-d", str(WIT), "-w", kind, "componentize",
         "-p", str(work), "-p", str(policy.parent), "-p", str(SDK),
         "sme_policy_entry", "-o", str(out)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"python-policy: componentize-py failed on {policy}:\n{result.stderr}{result.stdout}")
    if section:
        with open(out, "ab") as file:
            file.write(custom_section("sme-settings", section.encode()))
    size = out.stat().st_size
    print(f"{out}: {kind} policy, {size / (1 << 20):.1f} MiB, built in {time.monotonic() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/python-policy", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("build", help="build one policy file into a component")
    one.add_argument("policy", type=Path)
    one.add_argument("-o", "--output", type=Path, required=True)
    one.add_argument("--world", choices=["operation", "metrics"])
    examples = commands.add_parser("build-examples", help="build policies/python/* into target/python-policies/")
    examples.add_argument("--out-dir", type=Path, default=ROOT / "target" / "python-policies")
    describe_one = commands.add_parser("describe")
    describe_one.add_argument("policy", type=Path)
    args = parser.parse_args()
    if args.command == "describe":
        kind, section = describe(args.policy.resolve())
        sys.stdout.write(f"{kind}\n{section}")
    elif args.command == "build":
        build(args.policy, args.output, args.world)
    else:
        for directory, module, name in EXAMPLES:
            build(ROOT / "policies" / "python" / directory / f"{module}.py", args.out_dir / f"{name}.wasm", None)
        for directory, module, name in TEST_GUESTS:
            build(ROOT / "tests" / "guests-python" / directory / f"{module}.py", args.out_dir / f"{name}.wasm", None)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
