"""`kubectl devspace logs` against the local control plane."""

from __future__ import annotations

import signal
import subprocess
import time

from checks import LOGIN_LOG


def _create(testbed, devspace, workspace):
    namespace = f"devspace-{workspace}"
    testbed.set_logs(namespace, f"{workspace}-0", "tunnel", LOGIN_LOG)
    testbed.set_logs(namespace, f"{workspace}-0", "dind", "level=info msg=\"API listen on 127.0.0.1:2376\"\n")
    result = devspace("create", workspace, "--node", "n1")
    assert result.returncode == 0, result.output


def test_logs_prints_tunnel_log(testbed, devspace, workspace):
    _create(testbed, devspace, workspace)

    result = devspace("logs", workspace)

    assert result.returncode == 0, result.output
    assert result.stdout == LOGIN_LOG


def test_logs_prints_dind_log(testbed, devspace, workspace):
    _create(testbed, devspace, workspace)

    result = devspace("logs", workspace, "-c", "dind")

    assert result.returncode == 0, result.output
    assert "API listen on 127.0.0.1:2376" in result.stdout


def test_logs_tail_limits_lines(testbed, devspace, workspace):
    _create(testbed, devspace, workspace)

    result = devspace("logs", workspace, "--tail", "1")

    assert result.returncode == 0, result.output
    assert result.stdout.splitlines() == [LOGIN_LOG.splitlines()[-1]]


def test_logs_follow_until_interrupted(testbed, devspace, workspace):
    _create(testbed, devspace, workspace)
    process = devspace.popen("logs", workspace, "-f", stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    try:
        first = process.stdout.readline()
        testbed.append_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", "a line appended later\n")
        seen = [first]
        deadline = time.monotonic() + 30
        while b"appended later" not in b"".join(seen) and time.monotonic() < deadline:
            seen.append(process.stdout.readline())
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()

    assert b"appended later" in b"".join(seen)
    assert b"Traceback" not in stderr
    assert process.returncode in (0, 130)
