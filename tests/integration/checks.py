"""Assertions shared by the integration tests."""

from __future__ import annotations

import json

LOGIN_LOG = (
    "*\n"
    "* Visual Studio Code Server\n"
    "*\n"
    "[2026-12-04 10:00:00] info Using GitHub for authentication, run `code tunnel user login --provider <provider>` to use another.\n"
    "To grant access to the server, please log into https://github.com/login/device and use code 3F2A-1B4C\n"
)


def tunnel_log(tunnel_name: str) -> str:
    return (
        "[2026-12-04 10:00:05] info Creating tunnel with the name: " + tunnel_name + "\n"
        "Open this link in your browser https://vscode.dev/tunnel/" + tunnel_name + "/vscode\n"
    )


def assert_clean_failure(result, returncode: int = 1) -> None:
    """Check that a failure exits with `returncode`, prints one error line on stderr and no traceback."""
    assert result.returncode == returncode, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error: ", "Error: "))]
    assert len(errors) == 1, result.stderr


def get_json(testbed, *args: str) -> dict:
    return json.loads(testbed.run_kubectl("get", *args, "-o", "json").stdout)


def workspace_objects(testbed, name: str) -> set[str]:
    """Return "kind/name" of every object labelled as part of workspace `name`, in any namespace."""
    selector = f"app.kubernetes.io/managed-by=kubectl-devspace,app.kubernetes.io/instance={name}"
    found = set()
    for kind in ("namespaces", "secrets", "serviceaccounts", "networkpolicies", "statefulsets", "pods", "jobs"):
        items = get_json(testbed, kind, "-A", "-l", selector)["items"]
        found.update(f"{item['kind']}/{item['metadata']['name']}" for item in items)
    return found
