"""Fixtures that run the built zipapp as `kubectl devspace ...` through the testbed's kubectl."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ZIPAPP = REPO / "dist" / "kubectl-devspace"


def _sources_newer_than(target: Path) -> bool:
    built = target.stat().st_mtime
    sources = [*REPO.joinpath("kubectl_devspace").rglob("*.py"), REPO / "setup.cfg", REPO / "build.sh"]
    return any(path.stat().st_mtime > built for path in sources if path.exists())


@pytest.fixture(scope="session")
def plugin_dir() -> Path:
    """Return the folder holding the zipapp `kubectl-devspace`, building it when it is missing or stale.

    DEVSPACE_PLUGIN_DIR names another folder with a `kubectl-devspace` to test,
    such as a krew installation's bin folder; it is used as it is.
    """
    if os.environ.get("DEVSPACE_PLUGIN_DIR"):
        return Path(os.environ["DEVSPACE_PLUGIN_DIR"])
    if not ZIPAPP.exists() or _sources_newer_than(ZIPAPP):
        subprocess.run([str(REPO / "build.sh")], check=True, cwd=REPO)
    return ZIPAPP.parent


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Devspace:
    """Runs `kubectl devspace ...` the way a user does: kubectl finds the plugin on PATH."""

    def __init__(self, testbed, plugin_dir: Path):
        self.testbed = testbed
        self.outputs: list[str] = []
        path = os.pathsep.join([str(plugin_dir), str(Path(testbed.kubectl).parent), os.environ.get("PATH", "")])
        self.env = {**os.environ, "PATH": path, "KUBECONFIG": str(testbed.kubeconfig)}
        self.env.pop("DEVSPACE_DEBUG", None)

    def environment(self, restricted: bool = False) -> dict:
        env = dict(self.env)
        if restricted:
            env["KUBECONFIG"] = str(self.testbed.restricted_kubeconfig)
        return env

    def __call__(self, *args: str, restricted: bool = False, input: str | bytes | None = None,
                 timeout: float = 180) -> Result:
        binary = isinstance(input, bytes)
        if input is None:
            input = ""
        completed = subprocess.run(
            [str(self.testbed.kubectl), "devspace", *args],
            input=input,
            capture_output=True,
            text=not binary,
            env=self.environment(restricted),
            timeout=timeout,
        )
        stdout = completed.stdout if not binary else completed.stdout.decode("utf-8", "replace")
        stderr = completed.stderr if not binary else completed.stderr.decode("utf-8", "replace")
        self.outputs.append(stdout + stderr)
        return Result(completed.returncode, stdout, stderr)

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen([str(self.testbed.kubectl), "devspace", *args], env=self.environment(), **kwargs)


@pytest.fixture
def devspace(testbed, plugin_dir) -> Devspace:
    runner = Devspace(testbed, plugin_dir)
    yield runner
    # Whatever a test printed, no private key may appear in it.
    for output in runner.outputs:
        assert "PRIVATE KEY" not in output


@pytest.fixture
def workspace(testbed, unique_name):
    """Return a workspace name whose default namespace devspace-NAME is deleted after the test."""
    yield unique_name
    testbed.run_kubectl("delete", "namespace", f"devspace-{unique_name}", "--wait=false",
                        "--ignore-not-found", check=False)
    testbed.run_kubectl("delete", "clusterlogs", "-l",
                        f"testbed.kubectl-devspace/namespace=devspace-{unique_name}", check=False)
