"""`kubectl devspace exec-docker` against the local control plane (kwok runs the command locally)."""

from __future__ import annotations

import os
import subprocess

import pytest

from checks import LOGIN_LOG


@pytest.fixture
def running(testbed, devspace, workspace):
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG)
    result = devspace("create", workspace, "--node", "n1")
    assert result.returncode == 0, result.output
    return workspace


def test_exec_streams_and_exit_status(devspace, running):
    result = devspace("exec-docker", running, "--", "sh", "-c", "echo out; echo err >&2; exit 3")

    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_exec_stdin_reaches_command(devspace, running):
    result = devspace("exec-docker", running, "--", "sh", "-c", "cat; echo end-of-input", input="line one\nline two\n")

    assert result.returncode == 0, result.output
    assert result.stdout == "line one\nline two\nend-of-input\n"


def test_exec_large_output_bytes(testbed, devspace, running, tmp_path):
    """2 MiB of binary output arrives byte for byte."""
    payload = os.urandom(2 * 1024 * 1024)
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)

    completed = subprocess.run(
        [str(testbed.kubectl), "devspace", "exec-docker", running, "--", "cat", str(source)],
        capture_output=True, env=devspace.environment(), timeout=120, stdin=subprocess.DEVNULL,
    )

    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout) == len(payload)
    assert completed.stdout == payload


def test_exec_unknown_workspace(devspace, workspace):
    result = devspace("exec-docker", workspace, "--", "true")

    assert result.returncode == 1
    assert "not found" in result.stderr
    assert "Traceback" not in result.output
