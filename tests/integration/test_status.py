"""`kubectl devspace status` against the local control plane."""

from __future__ import annotations

import json

from checks import LOGIN_LOG, assert_clean_failure


def test_status_lists_workspaces(testbed, devspace, workspace):
    second = f"{workspace}-b"
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG)
    assert devspace("create", workspace, "--node", "n1").returncode == 0
    assert devspace("create", second, "--node", "n2", "--no-wait").returncode == 0

    try:
        result = devspace("status")
    finally:
        testbed.run_kubectl("delete", "namespace", f"devspace-{second}", "--wait=false", check=False)

    assert result.returncode == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "NAMESPACE", "NODE", "STATE", "DOCKER", "TUNNEL", "AGE"]
    by_name = {row.split()[0]: row.split() for row in rows}
    assert by_name[workspace][1] == f"devspace-{workspace}"
    assert by_name[workspace][2] == "n1"
    assert by_name[workspace][3] == "Ready"
    assert second in by_name


def test_status_detail_shows_login_code(testbed, devspace, workspace):
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG)
    assert devspace("create", workspace, "--node", "n1").returncode == 0

    result = devspace("status", workspace)

    assert result.returncode == 0, result.output
    assert "3F2A-1B4C" in result.stdout
    assert "https://github.com/login/device" in result.stdout
    assert f"/var/lib/devspace/{workspace}/data on node n1" in result.stdout
    assert f"/var/lib/devspace/{workspace}/docker on node n1" in result.stdout


def test_status_json_is_parseable(testbed, devspace, workspace):
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG)
    assert devspace("create", workspace, "--node", "n1").returncode == 0

    listing = devspace("status", "-o", "json")
    detail = devspace("status", workspace, "-o", "json")

    assert listing.returncode == 0, listing.output
    items = {item["name"]: item for item in json.loads(listing.stdout)["items"]}
    assert items[workspace]["namespace"] == f"devspace-{workspace}"
    assert items[workspace]["dockerReady"] is True
    document = json.loads(detail.stdout)
    assert document["tunnel"]["state"] == "login-pending"
    assert document["tunnel"]["loginCode"] == "3F2A-1B4C"
    assert document["data"]["workspace"]["path"] == f"/var/lib/devspace/{workspace}/data"
    assert document["options"]["node"] == "n1"


def test_status_unknown_workspace(devspace, workspace):
    result = devspace("status", workspace)

    assert_clean_failure(result)
    assert f"workspace {workspace!r} not found" in result.stderr
