"""Shared pytest fixtures.

Integration fixtures: `testbed` starts the local control plane from
tests/testbed/up once per session (or reuses a running one), and `unique_name`
gives a test a fresh name and deletes the namespaces created under it.
DEVSPACE_SKIP_INTEGRATION=1 skips every test that uses them; otherwise a
failing `up` is a test error. The testbed stays up after the session unless
this session started it and DEVSPACE_TESTBED_DOWN=1 is set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

TESTBED_SCRIPTS = Path(__file__).resolve().parent / "testbed"
sys.path.insert(0, str(TESTBED_SCRIPTS))
import testbed as testbed_lib  # noqa: E402

# Namespaces created for a test carry this label, so teardown finds them.
TEST_ID_LABEL = "testbed.kubectl-devspace/test-id"
# ClusterLogs created by set_logs carry the pod's namespace in this label.
LOGS_NAMESPACE_LABEL = "testbed.kubectl-devspace/namespace"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: needs the local testbed control plane (tests/testbed/up); "
        "DEVSPACE_SKIP_INTEGRATION=1 skips it")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    integration_dir = Path(__file__).resolve().parent / "integration"
    for item in items:
        if integration_dir in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@dataclass
class Testbed:
    """A running testbed: kubeconfig paths, the matching kubectl and test helpers."""

    state_dir: Path
    kubeconfig: Path
    restricted_kubeconfig: Path
    restricted_user: str
    kubectl: Path
    pod_logs_dir: Path
    server: str

    def run_kubectl(self, *args: str, restricted: bool = False, input: str | bytes | None = None,
                    check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the testbed's kubectl as the admin, or as the restricted user when `restricted`."""
        kubeconfig = self.restricted_kubeconfig if restricted else self.kubeconfig
        text = not isinstance(input, bytes)
        result = subprocess.run([str(self.kubectl), f"--kubeconfig={kubeconfig}", *args], input=input,
                                capture_output=True, text=text, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited with {result.returncode}: {result.stderr}")
        return result

    def apply(self, manifest: dict | list[dict]) -> None:
        items = manifest if isinstance(manifest, list) else [manifest]
        self.run_kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def bind_restricted(self, namespace: str) -> None:
        """Bind the restricted user to the devspace-user ClusterRole in `namespace`."""
        self.apply(testbed_lib.restricted_role_binding(namespace))

    def set_logs(self, namespace: str, pod: str, container: str, text: str) -> Path:
        """Make `kubectl logs` of the container return `text`, and return the log file.

        The pod and its namespace need not exist yet. Appending to the file with
        append_logs reaches a running `kubectl logs -f`.
        """
        path = self._log_path(namespace, pod, container)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_cri_log_lines(text))
        self._apply_cluster_logs(namespace, pod)
        return path

    def append_logs(self, namespace: str, pod: str, container: str, text: str) -> None:
        with open(self._log_path(namespace, pod, container), "a") as handle:
            handle.write(_cri_log_lines(text))

    def _log_path(self, namespace: str, pod: str, container: str) -> Path:
        return self.pod_logs_dir / namespace / pod / f"{container}.log"

    def _apply_cluster_logs(self, namespace: str, pod: str) -> None:
        # One ClusterLogs per pod lists every container that has a log file.
        pod_dir = self.pod_logs_dir / namespace / pod
        logs = [{"containers": [path.stem], "logsFile": str(path), "follow": True}
                for path in sorted(pod_dir.glob("*.log"))]
        name = re.sub(r"[^a-z0-9.-]", "-", f"testbed-{namespace}.{pod}".lower())[:253]
        self.apply({
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
            "metadata": {"name": name, "labels": {LOGS_NAMESPACE_LABEL: namespace}},
            "spec": {"selector": {"matchNamespaces": [namespace], "matchNames": [pod]}, "logs": logs},
        })


def _cri_log_lines(text: str) -> str:
    """Format `text` as CRI container log lines, the format kwok reads.

    A last line without a newline gets the partial tag P, so `kubectl logs`
    prints it without adding one.
    """
    timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lines = text.split("\n")
    formatted = [f"{timestamp} stdout F {line}\n" for line in lines[:-1]]
    if lines[-1]:
        formatted.append(f"{timestamp} stdout P {lines[-1]}\n")
    return "".join(formatted)


def _skip_integration() -> bool:
    return os.environ.get("DEVSPACE_SKIP_INTEGRATION") == "1"


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    """Start the testbed (or reuse the running one) and describe it."""
    if _skip_integration():
        pytest.skip("DEVSPACE_SKIP_INTEGRATION=1 is set")

    up = TESTBED_SCRIPTS / "up"
    was_running = subprocess.run([str(up), "--check"], stdout=subprocess.DEVNULL).returncode == 0
    # stderr carries progress and build output; it goes to the terminal with -s and into the report otherwise.
    result = subprocess.run([str(up)], stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"tests/testbed/up failed with exit code {result.returncode}; see its output above")
    kubeconfig = Path(result.stdout.strip().splitlines()[-1])
    info = json.loads((kubeconfig.parent / "testbed.json").read_text())
    yield Testbed(
        state_dir=Path(info["state_dir"]),
        kubeconfig=kubeconfig,
        restricted_kubeconfig=Path(info["restricted_kubeconfig"]),
        restricted_user=info["restricted_user"],
        kubectl=Path(info["kubectl"]),
        pod_logs_dir=Path(info["pod_logs_dir"]),
        server=info["server"],
    )
    if not was_running and os.environ.get("DEVSPACE_TESTBED_DOWN") == "1":
        subprocess.run([str(TESTBED_SCRIPTS / "down")], check=False)


@pytest.fixture
def unique_name(testbed: Testbed, request: pytest.FixtureRequest) -> Iterator[str]:
    """Return a DNS-1123 name unique to this test, e.g. "t-logs-follow-3f9a1c".

    Teardown deletes every namespace whose name contains this name (such as
    "devspace-<name>" or "<name>-b"), every namespace labelled with it under
    TEST_ID_LABEL, and the ClusterLogs that set_logs made for those namespaces.
    It does not wait for the namespaces to be gone.
    """
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_")).strip("-")[:30].strip("-")
    name = f"t-{stem}-{uuid.uuid4().hex[:6]}"
    yield name

    namespaces = testbed.run_kubectl("get", "namespaces", "-o", "json")
    doomed = []
    for item in json.loads(namespaces.stdout)["items"]:
        metadata = item["metadata"]
        if name in metadata["name"] or metadata.get("labels", {}).get(TEST_ID_LABEL) == name:
            doomed.append(metadata["name"])
    for namespace in doomed:
        testbed.run_kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
        testbed.run_kubectl("delete", "clusterlogs", "-l", f"{LOGS_NAMESPACE_LABEL}={namespace}", check=False)


@pytest.fixture
def namespace(testbed: Testbed, unique_name: str) -> str:
    """Create a namespace named unique_name and wait until pods can be created in it."""
    testbed.run_kubectl("create", "namespace", unique_name)
    testbed.run_kubectl("label", "namespace", unique_name, f"{TEST_ID_LABEL}={unique_name}")
    # The service account admission plugin rejects pods until the controller
    # manager has created the namespace's default service account.
    deadline = time.monotonic() + 30
    while testbed.run_kubectl("get", "serviceaccount", "default", "-n", unique_name, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"serviceaccount default missing in namespace {unique_name} after 30s")
        time.sleep(0.2)
    return unique_name
