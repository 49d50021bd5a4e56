"""Unit tests for the security and shape of a workspace's objects (manifests, purge)."""

import base64
import dataclasses
import json
import re
import shlex

import pytest

from kubectl_devspace import certificates, manifests, names, purge
from kubectl_devspace.workspaces import Workspace

DISCOVERY_LABELS = (
    manifests.MANAGED_BY_LABEL,
    manifests.NAME_LABEL,
    manifests.INSTANCE_LABEL,
    manifests.COMPONENT_LABEL,
)


def make_spec(**overrides):
    # The node name and its hostname label differ on purpose, as they can on
    # clouds, so a test can tell which of the two a manifest uses.
    values = {
        "name": "alice",
        "namespace": "devspace-alice",
        "node": "node-a.internal",
        "hostname": "host-a",
        "tunnel_name": "alice-tunnel",
    }
    values.update(overrides)
    return manifests.WorkspaceSpec(**values)


@pytest.fixture
def spec():
    return make_spec()


def container(pod, name):
    matches = [item for item in pod["containers"] if item["name"] == name]
    assert len(matches) == 1, f"expected one container {name!r}"
    return matches[0]


def volume(pod, name):
    matches = [item for item in pod["volumes"] if item["name"] == name]
    assert len(matches) == 1, f"expected one volume {name!r}"
    return matches[0]


def mount_paths(item):
    return {mount["mountPath"]: mount["name"] for mount in item["volumeMounts"]}


def env(item):
    return {entry["name"]: entry["value"] for entry in item.get("env", [])}


def dind_script(spec):
    command = manifests.dind_container(spec)["command"]
    assert command[:2] == ["sh", "-c"]
    return command[2]


def dockerd_arguments(spec):
    """Return the words after 'exec dind dockerd' in the dind container's script."""
    for line in dind_script(spec).splitlines():
        words = shlex.split(line)
        if words[:3] == ["exec", "dind", "dockerd"]:
            return words[3:]
    raise AssertionError("the dind script has no 'exec dind dockerd' line")


def flag_values(arguments, flag):
    prefix = f"{flag}="
    return [argument[len(prefix):] for argument in arguments if argument.startswith(prefix)]


# Docker daemon


def test_dockerd_hosts_exact(spec):
    hosts = flag_values(dockerd_arguments(spec), "--host")

    assert hosts == ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2376"]


def test_dockerd_no_other_listeners(spec):
    arguments = dockerd_arguments(spec)

    assert not [argument for argument in arguments if argument.startswith("-H")]
    assert "0.0.0.0" not in dind_script(spec)
    assert "2375" not in dind_script(spec)


def test_dockerd_tls_verify(spec):
    arguments = dockerd_arguments(spec)

    assert "--tlsverify" in arguments
    assert "--tls=false" not in arguments
    assert "--tlsverify=false" not in arguments


@pytest.mark.parametrize(
    ("flag", "file_name"),
    [
        pytest.param("--tlscacert", "ca.pem", id="ca"),
        pytest.param("--tlscert", "cert.pem", id="cert"),
        pytest.param("--tlskey", "key.pem", id="key"),
    ],
)
def test_dockerd_tls_file_flags(spec, flag, file_name):
    values = flag_values(dockerd_arguments(spec), flag)

    assert values == [f"{manifests.SERVER_CERT_DIR}/{file_name}"]


def test_dockerd_tls_files_mounted(spec):
    # The files dockerd reads come from the server TLS volume, from the
    # Secret keys of the server certificate.
    dind = manifests.dind_container(spec)
    tls_volume = volume(manifests.pod_spec(spec), "docker-tls-server")
    items = {item["path"]: item["key"] for item in tls_volume["secret"]["items"]}

    assert mount_paths(dind)[manifests.SERVER_CERT_DIR] == "docker-tls-server"
    assert items == {
        "ca.pem": certificates.CA_CERT,
        "cert.pem": certificates.SERVER_CERT,
        "key.pem": certificates.SERVER_KEY,
    }


def test_dockerd_keeps_dind_wrapper(spec):
    assert "exec dind dockerd" in dind_script(spec)


def test_dockerd_mtu_from_eth0(spec):
    script = dind_script(spec)

    assert "/sys/class/net/eth0/mtu" in script
    assert flag_values(dockerd_arguments(spec), "--mtu") == ["$mtu"]
    assert re.search(r"^mtu=\$\(cat /sys/class/net/eth0/mtu", script, re.MULTILINE)


def test_dind_script_fails_fast(spec):
    assert dind_script(spec).startswith("set -eu\n")


def test_dind_readiness_docker_info(spec):
    probe = manifests.dind_container(spec)["readinessProbe"]

    assert probe["exec"]["command"] == ["docker", "info"]


def test_dind_image_from_spec():
    dind = manifests.dind_container(make_spec(dind_image="registry.local/docker:dind"))

    assert dind["image"] == "registry.local/docker:dind"


def test_privileged_only_dind(spec):
    pod = manifests.pod_spec(spec)

    assert container(pod, "dind")["securityContext"]["privileged"] is True
    assert not container(pod, "tunnel").get("securityContext", {}).get("privileged")
    assert "securityContext" not in pod or not pod["securityContext"].get("privileged")


def test_docker_data_is_volume(spec):
    pod = manifests.pod_spec(spec)

    assert mount_paths(container(pod, "dind"))["/var/lib/docker"] == "docker-data"
    assert volume(pod, "docker-data")


# Pod and StatefulSet


def test_service_account_no_token(spec):
    account = manifests.service_account(spec)

    assert account["automountServiceAccountToken"] is False


def test_pod_no_token(spec):
    pod = manifests.pod_spec(spec)

    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == manifests.service_account(spec)["metadata"]["name"]


def test_network_policy_selects_pod(spec):
    policy = manifests.network_policy(spec)
    pod_labels = manifests.stateful_set(spec)["spec"]["template"]["metadata"]["labels"]
    match_labels = policy["spec"]["podSelector"]["matchLabels"]

    assert match_labels
    assert match_labels.items() <= pod_labels.items()


def test_network_policy_denies_ingress(spec):
    policy_spec = manifests.network_policy(spec)["spec"]

    assert policy_spec["policyTypes"] == ["Ingress"]
    assert not policy_spec.get("ingress")


def test_network_policy_not_other_workspace():
    alice_policy = manifests.network_policy(make_spec())
    bob_labels = manifests.stateful_set(make_spec(name="bob"))["spec"]["template"]["metadata"]["labels"]
    match_labels = alice_policy["spec"]["podSelector"]["matchLabels"]

    assert not match_labels.items() <= bob_labels.items()


def test_namespace_enforces_privileged(spec):
    namespace = manifests.namespace(spec)

    assert namespace["metadata"]["name"] == "devspace-alice"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_stateful_set_kind_and_replicas(spec):
    stateful_set = manifests.stateful_set(spec)

    assert stateful_set["kind"] == "StatefulSet"
    assert stateful_set["apiVersion"] == "apps/v1"
    assert stateful_set["spec"]["replicas"] == 1


def test_stateful_set_pod_name(spec):
    stateful_set = manifests.stateful_set(spec)

    assert stateful_set["metadata"]["name"] == "alice"
    assert names.pod_name(stateful_set["metadata"]["name"]) == "alice-0"


def test_stateful_set_selector_matches_template(spec):
    stateful_set = manifests.stateful_set(spec)
    match_labels = stateful_set["spec"]["selector"]["matchLabels"]
    template_labels = stateful_set["spec"]["template"]["metadata"]["labels"]

    assert match_labels.items() <= template_labels.items()


@pytest.mark.parametrize("container_name", ["dind", "tunnel"])
def test_workspace_data_at_vscode(spec, container_name):
    item = container(manifests.pod_spec(spec), container_name)

    assert mount_paths(item)["/vscode"] == "workspace-data"


def test_tunnel_docker_env(spec):
    variables = env(manifests.tunnel_container(spec))

    assert variables["DOCKER_HOST"] == "tcp://127.0.0.1:2376"
    assert variables["DOCKER_TLS_VERIFY"] == "1"
    assert variables["DOCKER_CERT_PATH"] == "/certs/client"
    assert variables["VSCODE_CLI_USE_FILE_KEYCHAIN"] == "1"


def test_tunnel_client_certs_mounted(spec):
    pod = manifests.pod_spec(spec)
    tunnel = container(pod, "tunnel")
    items = {item["path"]: item["key"] for item in volume(pod, "docker-tls-client")["secret"]["items"]}

    assert mount_paths(tunnel)["/certs/client"] == "docker-tls-client"
    assert items == {
        "ca.pem": certificates.CA_CERT,
        "cert.pem": certificates.CLIENT_CERT,
        "key.pem": certificates.CLIENT_KEY,
    }


def test_tunnel_no_server_key(spec):
    pod = manifests.pod_spec(spec)
    tunnel = container(pod, "tunnel")

    assert manifests.SERVER_CERT_DIR not in mount_paths(tunnel)
    assert "docker-tls-server" not in mount_paths(tunnel).values()


def test_tunnel_args_name(spec):
    assert manifests.tunnel_container(spec)["args"] == ["--name", "alice-tunnel"]


def test_node_selector_uses_hostname(spec):
    pod = manifests.pod_spec(spec)

    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "host-a"}
    assert "node-a.internal" not in pod["nodeSelector"].values()
    assert "nodeName" not in pod


# Storage


def test_host_paths_owned_namespace(spec):
    pod = manifests.pod_spec(spec)

    assert volume(pod, "workspace-data")["hostPath"] == {
        "path": "/var/lib/devspace/alice/data",
        "type": "DirectoryOrCreate",
    }
    assert volume(pod, "docker-data")["hostPath"] == {
        "path": "/var/lib/devspace/alice/docker",
        "type": "DirectoryOrCreate",
    }


def test_host_paths_shared_namespace():
    pod = manifests.pod_spec(make_spec(namespace="team", owns_namespace=False))

    assert volume(pod, "workspace-data")["hostPath"]["path"] == "/var/lib/devspace/team.alice/data"
    assert volume(pod, "docker-data")["hostPath"]["path"] == "/var/lib/devspace/team.alice/docker"


def test_host_paths_differ_across_namespaces():
    first = manifests.data_paths(make_spec(namespace="team-a", owns_namespace=False))
    second = manifests.data_paths(make_spec(namespace="team-b", owns_namespace=False))

    assert first["workspace"] != second["workspace"]
    assert first["docker"] != second["docker"]


def test_host_paths_overridden():
    pod = manifests.pod_spec(make_spec(data_dir="/srv/alice", docker_dir="/scratch/alice-docker"))

    assert volume(pod, "workspace-data")["hostPath"]["path"] == "/srv/alice"
    assert volume(pod, "docker-data")["hostPath"]["path"] == "/scratch/alice-docker"


def test_ephemeral_docker_empty_dir():
    pod = manifests.pod_spec(make_spec(ephemeral_docker=True))
    docker_volume = volume(pod, "docker-data")

    assert docker_volume == {"name": "docker-data", "emptyDir": {}}
    assert "hostPath" in volume(pod, "workspace-data")


def test_storage_class_claims():
    stateful_set = manifests.stateful_set(make_spec(storage_class="fast", data_size="10Gi", docker_size="20Gi"))
    claims = {claim["metadata"]["name"]: claim for claim in stateful_set["spec"]["volumeClaimTemplates"]}

    assert set(claims) == {"workspace-data", "docker-data"}
    assert claims["workspace-data"]["spec"]["storageClassName"] == "fast"
    assert claims["workspace-data"]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert claims["docker-data"]["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_storage_class_no_host_path():
    stateful_set = manifests.stateful_set(make_spec(storage_class="fast"))
    pod = stateful_set["spec"]["template"]["spec"]
    volume_names = [item["name"] for item in pod["volumes"]]

    assert not [item for item in pod["volumes"] if "hostPath" in item]
    assert "workspace-data" not in volume_names
    assert "docker-data" not in volume_names


def test_storage_class_ephemeral_docker():
    stateful_set = manifests.stateful_set(make_spec(storage_class="fast", ephemeral_docker=True))
    claim_names = [claim["metadata"]["name"] for claim in stateful_set["spec"]["volumeClaimTemplates"]]
    pod = stateful_set["spec"]["template"]["spec"]

    assert claim_names == ["workspace-data"]
    assert volume(pod, "docker-data") == {"name": "docker-data", "emptyDir": {}}


def test_host_path_no_claims(spec):
    assert "volumeClaimTemplates" not in manifests.stateful_set(spec)["spec"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="host-path"),
        pytest.param({"ephemeral_docker": True}, id="ephemeral-docker"),
        pytest.param({"storage_class": "fast"}, id="storage-class"),
        pytest.param({"storage_class": "fast", "ephemeral_docker": True}, id="storage-class-ephemeral"),
    ],
)
def test_every_mount_has_source(overrides):
    stateful_set = manifests.stateful_set(make_spec(**overrides))
    pod = stateful_set["spec"]["template"]["spec"]
    sources = {item["name"] for item in pod["volumes"]}
    sources |= {claim["metadata"]["name"] for claim in stateful_set["spec"].get("volumeClaimTemplates", [])}

    for item in pod["containers"]:
        for mount in item["volumeMounts"]:
            assert mount["name"] in sources, f"{item['name']} mounts {mount['name']}"


# Resources


def test_no_resources_by_default(spec):
    pod = manifests.pod_spec(spec)

    assert "resources" not in container(pod, "dind")
    assert "tolerations" not in pod


def test_cpu_memory_resources():
    dind = manifests.dind_container(make_spec(cpu="4", memory="16Gi"))

    assert dind["resources"]["requests"] == {"cpu": "4", "memory": "16Gi"}
    assert dind["resources"]["limits"] == {"cpu": "4", "memory": "16Gi"}


def test_gpu_resources():
    dind = manifests.dind_container(make_spec(gpus=2))

    assert dind["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert dind["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_gpu_toleration():
    pod = manifests.pod_spec(make_spec(gpus=1))

    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


# Labels, annotation and Secret


def all_objects(spec):
    objects = [*manifests.workspace_objects(spec), manifests.docker_tls_secret(spec)]
    objects += manifests.volume_claim_templates(spec)
    job = purge.purge_job(spec, spec.namespace)
    if job:
        objects.append(job)
    return objects


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="owned-namespace"),
        pytest.param({"namespace": "team", "owns_namespace": False}, id="shared-namespace"),
        pytest.param({"storage_class": "fast"}, id="storage-class"),
    ],
)
def test_objects_carry_discovery_labels(overrides):
    spec = make_spec(**overrides)

    for body in all_objects(spec):
        object_labels = body["metadata"]["labels"]
        where = f"{body['kind']} {body['metadata']['name']}"
        assert object_labels[manifests.MANAGED_BY_LABEL] == "kubectl-devspace", where
        assert object_labels[manifests.NAME_LABEL] == "devspace", where
        assert object_labels[manifests.INSTANCE_LABEL] == "alice", where
        assert object_labels[manifests.COMPONENT_LABEL], where


def test_pod_template_carries_labels(spec):
    template_labels = manifests.stateful_set(spec)["spec"]["template"]["metadata"]["labels"]

    for label in DISCOVERY_LABELS:
        assert label in template_labels, label
    assert template_labels[manifests.INSTANCE_LABEL] == "alice"


def test_selector_matches_labels(spec):
    selector = dict(part.split("=", 1) for part in manifests.selector("alice").split(","))
    object_labels = manifests.stateful_set(spec)["metadata"]["labels"]

    assert selector.items() <= object_labels.items()
    assert selector[manifests.INSTANCE_LABEL] == "alice"


def test_workspace_objects_namespace_first(spec):
    kinds = [body["kind"] for body in manifests.workspace_objects(spec)]

    assert kinds == ["Namespace", "ServiceAccount", "NetworkPolicy", "StatefulSet"]


def test_shared_namespace_not_created():
    spec = make_spec(namespace="team", owns_namespace=False)
    objects = manifests.workspace_objects(spec)

    assert "Namespace" not in [body["kind"] for body in objects]
    for body in objects:
        assert body["metadata"]["namespace"] == "team", body["kind"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {
                "namespace": "team",
                "owns_namespace": False,
                "data_dir": "/srv/alice",
                "docker_dir": "/srv/alice-docker",
                "cpu": "500m",
                "memory": "8Gi",
                "gpus": 1,
                "dind_image": "registry.local/docker:dind",
                "tunnel_image": "registry.local/tunnel:1",
            },
            id="every-option",
        ),
        pytest.param(
            {"storage_class": "fast", "ephemeral_docker": True, "data_size": "5Gi"},
            id="storage-class",
        ),
    ],
)
def test_options_annotation_round_trip(overrides):
    spec = make_spec(**overrides)
    stateful_set = manifests.stateful_set(spec)
    # What the API server returns: JSON, with the annotation as text.
    stored = json.loads(json.dumps(stateful_set))

    assert Workspace(spec.name, spec.namespace, stored).spec == spec


def test_options_annotation_omits_identity(spec):
    annotation = manifests.stateful_set(spec)["metadata"]["annotations"][manifests.OPTIONS_ANNOTATION]
    options = json.loads(annotation)

    assert "name" not in options
    assert "namespace" not in options
    assert options["node"] == "node-a.internal"
    assert options["hostname"] == "host-a"


def test_options_cover_every_field(spec):
    recorded = set(spec.options())
    fields = {field.name for field in dataclasses.fields(manifests.WorkspaceSpec)}

    assert recorded == fields - {"name", "namespace"}


def test_secret_without_bundle_empty(spec):
    secret = manifests.docker_tls_secret(spec)

    assert "data" not in secret
    assert "stringData" not in secret
    assert secret["metadata"]["name"] == manifests.secret_name("alice")


def test_secret_with_bundle_base64(spec):
    bundle = certificates.generate_docker_tls("alice")

    secret = manifests.docker_tls_secret(spec, bundle)

    assert set(secret["data"]) == set(certificates.BUNDLE_KEYS)
    for key, pem in bundle.items():
        assert base64.b64decode(secret["data"][key], validate=True) == pem, key


def test_secret_matches_tls_volumes(spec):
    pod = manifests.pod_spec(spec)
    secret_name = manifests.docker_tls_secret(spec)["metadata"]["name"]

    for volume_name in ("docker-tls-server", "docker-tls-client"):
        assert volume(pod, volume_name)["secret"]["secretName"] == secret_name, volume_name


# Purge Job


def purge_paths(job):
    return sorted(item["hostPath"]["path"] for item in job["spec"]["template"]["spec"]["volumes"])


def test_purge_job_pinned_to_hostname(spec):
    pod = purge.purge_job(spec, spec.namespace)["spec"]["template"]["spec"]

    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "host-a"}
    assert "nodeName" not in pod


def test_purge_job_mounts_host_paths(spec):
    job = purge.purge_job(spec, spec.namespace)

    assert purge_paths(job) == ["/var/lib/devspace/alice/data", "/var/lib/devspace/alice/docker"]


def test_purge_job_mounts_only_volumes(spec):
    pod = purge.purge_job(spec, spec.namespace)["spec"]["template"]["spec"]
    volume_names = {item["name"] for item in pod["volumes"]}
    (purge_container,) = pod["containers"]

    assert {mount["name"] for mount in purge_container["volumeMounts"]} == volume_names
    for item in pod["volumes"]:
        assert set(item) == {"name", "hostPath"}, item["name"]


def test_purge_job_overridden_paths():
    job = purge.purge_job(make_spec(data_dir="/srv/alice", docker_dir="/scratch/alice"), "devspace-alice")

    assert purge_paths(job) == ["/scratch/alice", "/srv/alice"]


def test_purge_job_ephemeral_docker():
    job = purge.purge_job(make_spec(ephemeral_docker=True), "devspace-alice")

    assert purge_paths(job) == ["/var/lib/devspace/alice/data"]


def test_purge_job_shared_namespace():
    spec = make_spec(namespace="team", owns_namespace=False)

    job = purge.purge_job(spec, "team")

    assert job["metadata"]["namespace"] == "team"
    assert purge_paths(job) == ["/var/lib/devspace/team.alice/data", "/var/lib/devspace/team.alice/docker"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"storage_class": "fast"}, id="storage-class"),
        pytest.param({"storage_class": "fast", "ephemeral_docker": True}, id="storage-class-ephemeral"),
    ],
)
def test_purge_job_none_without_host_paths(overrides):
    assert purge.purge_job(make_spec(**overrides), "devspace-alice") is None


def test_purge_job_no_token(spec):
    pod = purge.purge_job(spec, spec.namespace)["spec"]["template"]["spec"]

    assert pod["automountServiceAccountToken"] is False
