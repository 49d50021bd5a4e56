"""Checks that the testbed behaves as the integration tests expect.

Each test covers one promise of tests/testbed/README.md: the fake nodes, the
restricted user's permissions, scheduling, logs, exec and namespace deletion,
and that `down` stops every process that `up` started.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TESTBED_SCRIPTS = Path(__file__).resolve().parents[1] / "testbed"


def pod_manifest(namespace: str, name: str, node_selector: dict[str, str],
                 containers: tuple[str, ...] = ("main",), resources: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeSelector": node_selector,
            "containers": [
                {"name": container, "image": "example.invalid/none:latest", "resources": resources or {}}
                for container in containers
            ],
        },
    }


def run_pod(testbed, namespace: str, name: str, node_selector: dict[str, str], **kwargs) -> dict:
    """Create a pod, wait until it is Ready and return it."""
    testbed.apply(pod_manifest(namespace, name, node_selector, **kwargs))
    testbed.run_kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", namespace, "--timeout=60s",
                        timeout=90)
    return json.loads(testbed.run_kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)


@pytest.fixture
def exec_pod(testbed, namespace) -> str:
    run_pod(testbed, namespace, "workspace", {"kubernetes.io/hostname": "n1"}, containers=("main", "dind"))
    return "workspace"


def test_nodes_have_designed_states(testbed):
    nodes = json.loads(testbed.run_kubectl("get", "nodes", "-o", "json").stdout)["items"]
    by_name = {node["metadata"]["name"]: node for node in nodes}

    def ready(name: str) -> str:
        conditions = by_name[name]["status"].get("conditions", [])
        return next((c["status"] for c in conditions if c["type"] == "Ready"), "missing")

    assert {"n1", "n2", "n3", "n4", "gpu1"} <= set(by_name)
    for name in ("n1", "n2", "n3", "gpu1"):
        assert ready(name) == "True", name
    assert ready("n4") != "True"
    assert by_name["n1"]["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
    assert by_name["n2"]["metadata"]["labels"]["kubernetes.io/hostname"] == "n2-host"
    assert by_name["n3"]["spec"].get("unschedulable") is True
    assert not by_name["n1"]["spec"].get("unschedulable")
    assert by_name["gpu1"]["status"]["capacity"]["nvidia.com/gpu"] == "4"
    assert by_name["gpu1"]["status"]["allocatable"]["nvidia.com/gpu"] == "4"

    leases = testbed.run_kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name").stdout.split()
    for name in ("n1", "n2", "n3", "gpu1"):
        assert f"lease.coordination.k8s.io/{name}" in leases

    table = testbed.run_kubectl("get", "nodes", "--no-headers").stdout
    statuses = {line.split()[0]: line.split()[1] for line in table.splitlines()}
    assert statuses["n3"] == "Ready,SchedulingDisabled"
    assert statuses["n4"].startswith("NotReady")


def test_kubectl_and_server_report_pinned_version(testbed):
    go_mod = (TESTBED_SCRIPTS / "tools" / "kubernetes" / "go.mod").read_text()
    pinned = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes (v\S+)", go_mod, re.MULTILINE).group(1)

    versions = json.loads(testbed.run_kubectl("version", "-o", "json").stdout)

    assert versions["clientVersion"]["gitVersion"] == pinned
    assert versions["serverVersion"]["gitVersion"] == pinned


def test_restricted_user_permissions(testbed, namespace, unique_name):
    unbound = f"{unique_name}-unbound"
    testbed.run_kubectl("create", "namespace", unbound)
    testbed.bind_restricted(namespace)

    def can_i(*args: str) -> str:
        result = testbed.run_kubectl("auth", "can-i", *args, restricted=True, check=False)
        return result.stdout.strip()

    assert can_i("create", "statefulsets.apps", "-n", namespace) == "yes"
    assert can_i("create", "pods/exec", "-n", namespace) == "yes"
    assert can_i("get", "pods/log", "-n", namespace) == "yes"
    assert can_i("create", "secrets", "-n", namespace) == "yes"
    assert can_i("create", "networkpolicies.networking.k8s.io", "-n", namespace) == "yes"
    assert can_i("create", "statefulsets.apps", "-n", unbound) == "no"
    assert can_i("create", "namespaces") == "no"
    assert can_i("list", "statefulsets.apps", "--all-namespaces") == "no"
    assert can_i("list", "nodes") == "yes"

    denied = testbed.run_kubectl("create", "namespace", f"{unique_name}-denied", restricted=True, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr


def test_pod_scheduled_by_hostname_label(testbed, namespace):
    pod_n1 = run_pod(testbed, namespace, "on-n1", {"kubernetes.io/hostname": "n1"})
    pod_n2 = run_pod(testbed, namespace, "on-n2", {"kubernetes.io/hostname": "n2-host"})

    assert pod_n1["spec"]["nodeName"] == "n1"
    assert pod_n1["status"]["phase"] == "Running"
    assert pod_n1["status"]["hostIP"] == "127.0.0.1"
    assert pod_n2["spec"]["nodeName"] == "n2"


def test_gpu_pod_lands_on_gpu_node(testbed, namespace):
    gpu = {"limits": {"nvidia.com/gpu": "1"}}

    pod = run_pod(testbed, namespace, "gpu", {}, resources=gpu)

    assert pod["spec"]["nodeName"] == "gpu1"


def test_pod_for_cordoned_node_stays_pending(testbed, namespace):
    testbed.apply(pod_manifest(namespace, "on-n3", {"kubernetes.io/hostname": "n3"}))
    time.sleep(3)

    pod = json.loads(testbed.run_kubectl("get", "pod", "on-n3", "-n", namespace, "-o", "json").stdout)

    assert pod["status"]["phase"] == "Pending"
    assert not pod["spec"].get("nodeName")


def test_job_pod_completes(testbed, namespace):
    job = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "once", "namespace": namespace},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"kubernetes.io/hostname": "n1"},
            "containers": [{"name": "main", "image": "example.invalid/none:latest"}],
        }}},
    }
    testbed.apply(job)

    testbed.run_kubectl("wait", "--for=condition=Complete", "job/once", "-n", namespace, "--timeout=90s",
                        timeout=120)


def test_logs_return_chosen_text(testbed, unique_name, namespace):
    # The ClusterLogs exists before the pod does.
    testbed.set_logs(namespace, "workspace", "main", "first line\nsecond line\n")
    testbed.set_logs(namespace, "workspace", "dind", "docker ready\n")
    run_pod(testbed, namespace, "workspace", {"kubernetes.io/hostname": "n1"}, containers=("main", "dind"))

    main = testbed.run_kubectl("logs", "workspace", "-c", "main", "-n", namespace)
    dind = testbed.run_kubectl("logs", "workspace", "-c", "dind", "-n", namespace)

    assert main.stdout == "first line\nsecond line\n"
    assert dind.stdout == "docker ready\n"


def test_logs_set_before_namespace_exists(testbed, unique_name):
    testbed.set_logs(unique_name, "early", "main", "from before\n")
    testbed.run_kubectl("create", "namespace", unique_name)
    deadline = time.monotonic() + 30
    while testbed.run_kubectl("get", "sa", "default", "-n", unique_name, check=False).returncode != 0:
        assert time.monotonic() < deadline, "default service account never appeared"
        time.sleep(0.2)
    run_pod(testbed, unique_name, "early", {"kubernetes.io/hostname": "n1"})

    result = testbed.run_kubectl("logs", "early", "-n", unique_name)

    assert result.stdout == "from before\n"


def test_logs_follow_streams_appended_lines(testbed, namespace):
    testbed.set_logs(namespace, "follow", "main", "start\n")
    run_pod(testbed, namespace, "follow", {"kubernetes.io/hostname": "n1"})
    argv = [str(testbed.kubectl), f"--kubeconfig={testbed.kubeconfig}", "logs", "-f", "follow", "-n", namespace]
    follower = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout.readline() == "start\n"
        testbed.append_logs(namespace, "follow", "main", "later\n")
        assert follower.stdout.readline() == "later\n"
    finally:
        follower.kill()
        follower.wait()


def test_exec_exit_code_and_streams(testbed, namespace, exec_pod):
    result = testbed.run_kubectl("exec", exec_pod, "-n", namespace, "-c", "dind", "--",
                                 "sh", "-c", "echo out; echo err >&2; exit 3", check=False)

    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr.startswith("err\n")


def test_exec_passes_stdin(testbed, namespace, exec_pod):
    result = testbed.run_kubectl("exec", "-i", exec_pod, "-n", namespace, "--", "cat", input="abc",
                                 check=False, timeout=30)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "abc"


def test_exec_large_output_arrives_intact(testbed, namespace, exec_pod, tmp_path):
    data = os.urandom(2 * 1024 * 1024)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)

    result = testbed.run_kubectl("exec", exec_pod, "-n", namespace, "--", "cat", str(source),
                                 input=b"", check=False, timeout=60)

    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == len(data)
    assert result.stdout == data


def test_namespace_deletion_completes(testbed, unique_name):
    testbed.run_kubectl("create", "namespace", unique_name)
    testbed.run_kubectl("create", "configmap", "settings", "-n", unique_name, "--from-literal=a=b")
    deadline = time.monotonic() + 30
    while testbed.run_kubectl("get", "sa", "default", "-n", unique_name, check=False).returncode != 0:
        assert time.monotonic() < deadline, "default service account never appeared"
        time.sleep(0.2)
    run_pod(testbed, unique_name, "doomed", {"kubernetes.io/hostname": "n1"})

    testbed.run_kubectl("delete", "namespace", unique_name, "--timeout=120s", timeout=150)

    result = testbed.run_kubectl("get", "namespace", unique_name, check=False)
    assert result.returncode != 0
    assert "NotFound" in result.stderr


def test_down_stops_every_process(tmp_path):
    """Start a second, isolated testbed and check that `down` leaves none of its processes."""
    if os.environ.get("DEVSPACE_SKIP_INTEGRATION") == "1":
        pytest.skip("DEVSPACE_SKIP_INTEGRATION=1 is set")
    env = dict(os.environ, TESTBED_DIR=str(tmp_path / "testbed"))
    env.pop("TESTBED_PORT_BASE", None)

    up = subprocess.run([str(TESTBED_SCRIPTS / "up")], env=env, stdout=subprocess.PIPE, text=True, timeout=600)
    try:
        assert up.returncode == 0
        assert up.stdout.strip().splitlines()[-1] == str(tmp_path / "testbed" / "admin.kubeconfig")
        records = json.loads((tmp_path / "testbed" / "processes.json").read_text())
        assert set(records) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
                                "kubelet-proxy"}
        for record in records.values():
            assert Path(f"/proc/{record['pid']}").exists()

        again = subprocess.run([str(TESTBED_SCRIPTS / "up")], env=env, stdout=subprocess.PIPE, text=True,
                               timeout=60)
        assert again.stdout.strip().splitlines()[-1] == up.stdout.strip().splitlines()[-1]
        assert json.loads((tmp_path / "testbed" / "processes.json").read_text()) == records
    finally:
        down = subprocess.run([str(TESTBED_SCRIPTS / "down")], env=env, timeout=120)

    assert down.returncode == 0
    state_dir = str(tmp_path / "testbed")
    survivors = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if state_dir in cmdline:
            survivors.append(f"{proc.name}: {cmdline.replace(chr(0), ' ')}")
    assert survivors == []
    assert (tmp_path / "testbed" / "admin.kubeconfig").exists()
