"""A user limited to one namespace manages a workspace there, and gets clear permission errors elsewhere."""

from __future__ import annotations

from checks import LOGIN_LOG, assert_clean_failure


def test_restricted_user_lifecycle(testbed, devspace, namespace):
    testbed.bind_restricted(namespace)
    name = "ws"
    testbed.set_logs(namespace, f"{name}-0", "tunnel", LOGIN_LOG)

    created = devspace("create", name, "--node", "n1", "-n", namespace, restricted=True)
    status = devspace("status", name, "-n", namespace, restricted=True)
    listing = devspace("status", "-n", namespace, restricted=True)
    deleted = devspace("delete", name, "-n", namespace, "--yes", restricted=True)

    assert created.returncode == 0, created.output
    assert "3F2A-1B4C" in created.stdout
    assert status.returncode == 0, status.output
    assert "3F2A-1B4C" in status.stdout
    assert listing.returncode == 0, listing.output
    assert name in listing.stdout
    assert deleted.returncode == 0, deleted.output
    assert f"/var/lib/devspace/{namespace}.{name}/data" in deleted.stdout


def test_restricted_user_cannot_create_namespace(devspace, workspace):
    result = devspace("create", workspace, "--node", "n1", restricted=True)

    assert_clean_failure(result)
    assert "create namespaces (cluster-wide)" in result.stderr


def test_restricted_user_unbound_namespace(devspace, namespace):
    result = devspace("create", "ws", "--node", "n1", "-n", namespace, restricted=True)

    assert_clean_failure(result)
    assert f"patch statefulsets.apps in namespace {namespace!r}" in result.stderr
