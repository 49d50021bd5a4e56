#!/usr/bin/env python3
"""Measure the zipapp's size, start-up time, `status` speed, memory and API requests.

Runs against the local testbed (tests/testbed/up starts it) and prints each
measured number next to its target. Nothing here asserts: the numbers are
the result. Run it from the repository root after ./build.sh:

    python3 benchmarks/bench.py [--runs 15] [--workspaces 50]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZIPAPP = REPO / "dist" / "kubectl-devspace"
SELECTOR = "app.kubernetes.io/managed-by=kubectl-devspace"
BENCH_NAMESPACE_PREFIX = "bench-"

HELP_TARGET_SECONDS = 0.15
STATUS_RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 80.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (median reported)")
    parser.add_argument("--workspaces", type=int, default=50, help="workspaces for the request-count check")
    args = parser.parse_args()

    if not ZIPAPP.exists():
        print("dist/kubectl-devspace is missing: run ./build.sh first", file=sys.stderr)
        return 1

    testbed = start_testbed()
    interpreter_dir = tempfile.mkdtemp(prefix="bench-python-")
    python = os.path.realpath(sys.executable)
    os.symlink(python, os.path.join(interpreter_dir, "python3"))
    env = plugin_environment(testbed, interpreter_dir)

    # The zipapp starts with "#!/usr/bin/env python3". A version manager's
    # shim (pyenv's is a bash script) adds its own start-up time on every
    # call, so python3 on PATH is the interpreter itself here.
    print(f"machine: {os.cpu_count()} cores, python3 = {python}")
    print(f"zipapp size: {ZIPAPP.stat().st_size / 1e6:.1f} MB")

    first_run, warm_help = measure_start_up(env, args.runs)
    print(f"first run (extraction) --help: {first_run:.3f} s")
    report("warm --help (zipapp)", warm_help, HELP_TARGET_SECONDS, "s")
    via_kubectl_help = median_seconds([testbed["kubectl"], "devspace", "--help"], env, args.runs)
    print(f"warm --help through kubectl: {via_kubectl_help:.3f} s")

    namespaces = []
    try:
        namespaces += create_workspaces(env, 1, "one")
        measure_status(testbed, env, args.runs, label="1 workspace")
        requests_one = count_requests(env)

        namespaces += create_workspaces(env, args.workspaces - 1, "many")
        measure_status(testbed, env, args.runs, label=f"{args.workspaces} workspaces")
        requests_many = count_requests(env)

        print(f"API requests of status: {requests_one} with 1 workspace, {requests_many} with {args.workspaces}"
              f" -> {'met' if requests_one == requests_many else 'NOT met'} (target: equal)")
        peak_mb = peak_memory_mb([python, str(ZIPAPP), "status"], env)
        report("peak memory of status (zipapp process)", peak_mb, MEMORY_TARGET_MB, "MB")
    finally:
        for namespace in namespaces:
            subprocess.run([testbed["kubectl"], "delete", "namespace", namespace, "--wait=false"],
                           env=env, capture_output=True)
        shutil.rmtree(interpreter_dir, ignore_errors=True)
    return 0


def start_testbed() -> dict:
    result = subprocess.run([str(REPO / "tests" / "testbed" / "up")], stdout=subprocess.PIPE, text=True, check=True)
    kubeconfig = Path(result.stdout.strip().splitlines()[-1])
    info = json.loads((kubeconfig.parent / "testbed.json").read_text())
    return {"kubeconfig": str(kubeconfig), "kubectl": info["kubectl"]}


def plugin_environment(testbed: dict, interpreter_dir: str) -> dict:
    path = os.pathsep.join([interpreter_dir, str(ZIPAPP.parent), str(Path(testbed["kubectl"]).parent), os.environ["PATH"]])
    env = {**os.environ, "PATH": path, "KUBECONFIG": testbed["kubeconfig"]}

    # With PYTHONDONTWRITEBYTECODE set, Python never caches the unpacked
    # zipapp's bytecode and compiles every module on every run. Users rarely
    # set it, so the measurements run without it.
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        print("note: PYTHONDONTWRITEBYTECODE is set here; the measurements run without it")
    return env


def measure_start_up(env: dict, runs: int) -> tuple[float, float]:
    """Return the first-run time (empty SHIV_ROOT: extraction) and the warm median of --help."""
    with tempfile.TemporaryDirectory(prefix="bench-shiv-") as shiv_root:
        local_env = {**env, "SHIV_ROOT": shiv_root}
        started = time.perf_counter()
        subprocess.run([str(ZIPAPP), "--help"], env=local_env, capture_output=True, check=True)
        first_run = time.perf_counter() - started
    warm = median_seconds([str(ZIPAPP), "--help"], env, runs)
    return first_run, warm


def measure_status(testbed: dict, env: dict, runs: int, label: str) -> None:
    kubectl = testbed["kubectl"]
    plugin = median_seconds([kubectl, "devspace", "status"], env, runs)
    baseline = median_seconds([kubectl, "get", "statefulsets,pods", "-A", "-l", SELECTOR], env, runs)
    ratio = plugin / baseline
    print(f"status with {label}: kubectl devspace status {plugin:.3f} s, kubectl get {baseline:.3f} s")
    report(f"status / kubectl get ratio ({label})", ratio, STATUS_RATIO_TARGET, "x")


def count_requests(env: dict) -> int:
    result = subprocess.run([str(ZIPAPP), "status", "--debug"], env=env, capture_output=True, text=True, check=True)
    return len(re.findall(r"^kubectl_devspace\.cluster: (GET|POST|PATCH|DELETE) ", result.stderr, re.MULTILINE))


def create_workspaces(env: dict, count: int, tag: str) -> list[str]:
    namespaces = []
    suffix = os.urandom(3).hex()
    for index in range(count):
        name = f"{BENCH_NAMESPACE_PREFIX}{tag}-{suffix}-{index}"
        subprocess.run([str(ZIPAPP), "create", name, "--node", "n1", "--no-wait"],
                       env=env, capture_output=True, text=True, check=True)
        namespaces.append(f"devspace-{name}")
    return namespaces


def median_seconds(command: list[str], env: dict, runs: int) -> float:
    subprocess.run(command, env=env, capture_output=True, check=True)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def peak_memory_mb(command: list[str], env: dict) -> float:
    """Return the peak resident memory of one run of `command`, in MB (ru_maxrss of a fresh child)."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *command], env=env, capture_output=True, text=True, check=True)
    return int(result.stdout.strip()) / 1024


def report(name: str, value: float, target: float, unit: str) -> None:
    verdict = "met" if value <= target else "NOT met"
    print(f"{name}: {value:.3f} {unit} -> {verdict} (target: at most {target:g} {unit})")


if __name__ == "__main__":
    sys.exit(main())
