"""`kubectl devspace delete` against the local control plane."""

from __future__ import annotations

import time

from checks import LOGIN_LOG, assert_clean_failure, get_json, workspace_objects


def _wait_for_namespace_gone(testbed, namespace, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if testbed.run_kubectl("get", "namespace", namespace, check=False).returncode != 0:
            return True
        time.sleep(1)
    return False


def test_delete_removes_everything(testbed, devspace, workspace):
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG)
    assert devspace("create", workspace, "--node", "n1").returncode == 0

    result = devspace("delete", workspace, "--yes")

    assert result.returncode == 0, result.output
    assert f"/var/lib/devspace/{workspace}/data on node n1" in result.stdout
    assert f"/var/lib/devspace/{workspace}/docker on node n1" in result.stdout
    assert _wait_for_namespace_gone(testbed, f"devspace-{workspace}")
    assert workspace_objects(testbed, workspace) == set()


def test_delete_pending_workspace(testbed, devspace, workspace):
    created = devspace("create", workspace, "--node", "n1", "--cpu", "5000", "--no-wait")
    assert created.returncode == 0, created.output
    pod = get_json(testbed, "pods", "-n", f"devspace-{workspace}")
    assert all(item["status"]["phase"] == "Pending" for item in pod["items"])

    result = devspace("delete", workspace, "--yes")

    assert result.returncode == 0, result.output
    assert _wait_for_namespace_gone(testbed, f"devspace-{workspace}")


def test_delete_needs_confirmation(testbed, devspace, workspace):
    assert devspace("create", workspace, "--node", "n1", "--no-wait").returncode == 0

    result = devspace("delete", workspace)

    assert_clean_failure(result, returncode=2)
    assert "--yes" in result.stderr
    assert get_json(testbed, "statefulset", workspace, "-n", f"devspace-{workspace}")


def test_delete_unknown_workspace(devspace, workspace):
    result = devspace("delete", workspace, "--yes")

    assert_clean_failure(result)
    assert f"workspace {workspace!r} not found" in result.stderr


def test_delete_purge_runs_job_on_node(testbed, devspace, workspace, tmp_path):
    data_dir = tmp_path / "data"
    docker_dir = tmp_path / "docker"
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG)
    created = devspace("create", workspace, "--node", "n1", "--data-dir", str(data_dir), "--docker-dir", str(docker_dir))
    assert created.returncode == 0, created.output

    result = devspace("delete", workspace, "--yes", "--purge")

    assert result.returncode == 0, result.output
    assert "purged" in result.stdout
    assert str(data_dir) in result.stdout
    assert _wait_for_namespace_gone(testbed, f"devspace-{workspace}")


def test_delete_keeps_namespace_with_other_workspace(testbed, devspace, workspace):
    namespace = f"devspace-{workspace}"
    assert devspace("create", workspace, "--node", "n1", "--no-wait").returncode == 0
    assert devspace("create", "other", "--node", "n1", "-n", namespace, "--no-wait").returncode == 0

    result = devspace("delete", workspace, "--yes")

    assert result.returncode == 0, result.output
    assert "contains other workspaces: other" in result.stderr
    assert get_json(testbed, "statefulset", "other", "-n", namespace)["metadata"]["name"] == "other"


def test_delete_hint_names_namespace(testbed, devspace, namespace):
    assert devspace("create", "ws", "--node", "n1", "-n", namespace, "--no-wait").returncode == 0

    result = devspace("delete", "ws", "-n", namespace, "--yes")

    assert result.returncode == 0, result.output
    assert f"create ws -n {namespace} --node n1" in result.stdout
    assert f"/var/lib/devspace/{namespace}.ws/data" in result.stdout
