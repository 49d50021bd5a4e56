"""`kubectl devspace create` against the local control plane."""

from __future__ import annotations

import json

import pytest
import yaml

from checks import LOGIN_LOG, assert_clean_failure, get_json, tunnel_log, workspace_objects


def test_create_prints_login_code(testbed, devspace, workspace):
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG)

    result = devspace("create", workspace, "--node", "n1")

    assert result.returncode == 0, result.output
    assert "https://github.com/login/device" in result.stdout
    assert "3F2A-1B4C" in result.stdout
    assert workspace_objects(testbed, workspace) == {
        f"Namespace/devspace-{workspace}",
        f"Secret/{workspace}-docker-tls",
        f"ServiceAccount/{workspace}",
        f"NetworkPolicy/{workspace}",
        f"StatefulSet/{workspace}",
        f"Pod/{workspace}-0",
    }
    pod = get_json(testbed, "pod", f"{workspace}-0", "-n", f"devspace-{workspace}")
    assert pod["status"]["phase"] == "Running"
    assert pod["spec"]["nodeName"] == "n1"


def test_create_prints_tunnel_url(testbed, devspace, workspace):
    testbed.set_logs(f"devspace-{workspace}", f"{workspace}-0", "tunnel", LOGIN_LOG + tunnel_log("picked-by-cli"))

    result = devspace("create", workspace, "--node", "n1")

    assert result.returncode == 0, result.output
    assert "https://vscode.dev/tunnel/picked-by-cli" in result.stdout
    assert "3F2A-1B4C" not in result.stdout


def test_create_rerun_changes_nothing(testbed, devspace, workspace):
    namespace = f"devspace-{workspace}"
    testbed.set_logs(namespace, f"{workspace}-0", "tunnel", LOGIN_LOG)
    assert devspace("create", workspace, "--node", "n1").returncode == 0
    secret_before = get_json(testbed, "secret", f"{workspace}-docker-tls", "-n", namespace)
    stateful_set_before = get_json(testbed, "statefulset", workspace, "-n", namespace)

    result = devspace("create", workspace, "--node", "n1")

    assert result.returncode == 0, result.output
    assert "reusing" in result.stderr
    secret_after = get_json(testbed, "secret", f"{workspace}-docker-tls", "-n", namespace)
    stateful_set_after = get_json(testbed, "statefulset", workspace, "-n", namespace)
    assert secret_after["data"] == secret_before["data"]
    assert secret_after["metadata"]["resourceVersion"] == secret_before["metadata"]["resourceVersion"]
    assert stateful_set_after["metadata"]["generation"] == stateful_set_before["metadata"]["generation"]


def test_create_pins_hostname_label(testbed, devspace, workspace):
    node = get_json(testbed, "node", "n2")
    hostname = node["metadata"]["labels"]["kubernetes.io/hostname"]
    assert hostname != "n2"

    result = devspace("create", workspace, "--node", "n2", "--no-wait")

    assert result.returncode == 0, result.output
    stateful_set = get_json(testbed, "statefulset", workspace, "-n", f"devspace-{workspace}")
    node_selector = stateful_set["spec"]["template"]["spec"]["nodeSelector"]
    assert node_selector == {"kubernetes.io/hostname": hostname}


@pytest.mark.parametrize(
    ("node", "expected"),
    [("n3", "cordoned"), ("n4", "not Ready"), ("nosuch", "not found")],
    ids=["cordoned", "not-ready", "missing"],
)
def test_create_rejects_unusable_node(testbed, devspace, workspace, node, expected):
    result = devspace("create", workspace, "--node", node)

    assert_clean_failure(result)
    assert f"node {node!r}" in result.stderr
    assert expected in result.stderr
    assert "hint:" in result.stderr
    assert workspace_objects(testbed, workspace) == set()


def test_create_unschedulable_explained(testbed, devspace, workspace):
    result = devspace("create", workspace, "--node", "n1", "--cpu", "5000", "--timeout", "60s")

    assert_clean_failure(result)
    assert "cannot be scheduled" in result.stderr
    assert "Insufficient cpu" in result.stderr


def test_create_rejects_invalid_name(devspace):
    result = devspace("create", "Alice_1", "--node", "n1")

    assert_clean_failure(result, returncode=2)
    assert "'Alice_1'" in result.stderr


def test_dry_run_creates_nothing(testbed, devspace, workspace):
    result = devspace("create", workspace, "--node", "n1", "--dry-run", "-o", "yaml")

    assert result.returncode == 0, result.output
    documents = list(yaml.safe_load_all(result.stdout))
    assert [document["kind"] for document in documents] == [
        "Namespace", "Secret", "ServiceAccount", "NetworkPolicy", "StatefulSet",
    ]
    assert "data" not in documents[1]
    assert workspace_objects(testbed, workspace) == set()


def test_dry_run_passes_server_validation(testbed, devspace, namespace):
    """The API server validates the dry-run output strictly against its OpenAPI schema and changes nothing."""
    workspace = "ws"
    result = devspace("create", workspace, "--node", "n1", "-n", namespace, "--dry-run", "-o", "json")
    assert result.returncode == 0, result.output

    checked = testbed.run_kubectl(
        "create", "--dry-run=server", "--validate=strict", "-o", "name", "-f", "-",
        input=result.stdout, check=False,
    )

    assert checked.returncode == 0, checked.stderr
    assert f"statefulset.apps/{workspace}" in checked.stdout
    assert get_json(testbed, "statefulsets,secrets,networkpolicies", "-n", namespace)["items"] == []


def test_dry_run_matches_openapi_schema(testbed, devspace, workspace):
    """Each object validates against the component schema the API server publishes in /openapi/v3."""
    jsonschema = pytest.importorskip("jsonschema")
    result = devspace("create", workspace, "--node", "n1", "--dry-run", "-o", "json")
    objects = json.loads(result.stdout)["items"]

    for body in objects:
        group_version = body["apiVersion"]
        path = "api/v1" if group_version == "v1" else f"apis/{group_version}"
        document = json.loads(testbed.run_kubectl("get", "--raw", f"/openapi/v3/{path}").stdout)
        schemas = document["components"]["schemas"]
        name = next(key for key, schema in schemas.items()
                    if {"group": group_version.rpartition("/")[0], "version": group_version.rpartition("/")[2],
                        "kind": body["kind"]} in schema.get("x-kubernetes-group-version-kind", []))
        schema = dict(schemas[name], components=document["components"])
        resolver_schema = _rewrite_refs(schema)

        jsonschema.validate(body, resolver_schema)


def _rewrite_refs(schema):
    """Point "#/components/schemas/X" references at the embedded components and forbid unknown fields."""
    def walk(node):
        if isinstance(node, dict):
            node = {key: walk(value) for key, value in node.items()}
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


def test_no_private_key_in_dry_run(devspace, workspace):
    result = devspace("create", workspace, "--node", "n1", "--dry-run")

    assert result.returncode == 0, result.output
    assert "PRIVATE KEY" not in result.output
    assert "CERTIFICATE" not in result.output


def test_admission_rejection_explained(testbed, devspace, namespace):
    """A namespace that enforces the baseline Pod Security level rejects the privileged pod."""
    testbed.run_kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=baseline")

    result = devspace("create", "ws", "--node", "n1", "-n", namespace, "--timeout", "60s")

    assert_clean_failure(result)
    assert "cannot create the pod" in result.stderr
    assert "PodSecurity" in result.stderr


def test_storage_change_explained(devspace, workspace):
    assert devspace("create", workspace, "--node", "n1", "--no-wait").returncode == 0

    result = devspace("create", workspace, "--node", "n1", "--storage-class", "fast", "--no-wait")

    assert_clean_failure(result)
    assert "volumeClaimTemplates and selector cannot change" in result.stderr
    assert len(result.stderr) < 1500
