"""Kubernetes objects of a workspace, built as plain dicts.

Every function here is pure: it takes a ``WorkspaceSpec`` and returns the
object that ``create`` applies and ``create --dry-run`` prints, so the two
can never differ. Each object carries the discovery labels; ``status`` and
``delete`` find objects by these labels, never by name patterns.
"""

import base64
import json
from dataclasses import asdict, dataclass
from typing import Optional

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
HOSTNAME_LABEL = "kubernetes.io/hostname"

MANAGED_BY = "kubectl-devspace"
APP_NAME = "devspace"

# The create options are recorded on the StatefulSet under this annotation,
# as JSON, so that `status` can show them.
OPTIONS_ANNOTATION = "kubectl-devspace.dev/options"

PRIVILEGED_LABELS = {
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/warn": "privileged",
    "pod-security.kubernetes.io/audit": "privileged",
}

DIND_IMAGE = "docker:28.2.2-dind"
TUNNEL_IMAGE = "ghcr.io/harp-research-inc/vscode-cli-tunnel-docker:1.93.1-full-dev"
DATA_ROOT = "/var/lib/devspace"

WORKSPACE_MOUNT = "/vscode"
DOCKER_PORT = 2376
SERVER_CERT_DIR = "/certs/server"
CLIENT_CERT_DIR = "/certs/client"
GPU_RESOURCE = "nvidia.com/gpu"

# Keys of the Docker TLS Secret. This module does not import the
# certificates module, so that commands that only read workspaces never
# load the cryptography package.
CA_CERT = "ca.pem"
SERVER_CERT = "server-cert.pem"
SERVER_KEY = "server-key.pem"
CLIENT_CERT = "client-cert.pem"
CLIENT_KEY = "client-key.pem"
BUNDLE_KEYS = (CA_CERT, SERVER_CERT, SERVER_KEY, CLIENT_CERT, CLIENT_KEY)



@dataclass(frozen=True)
class WorkspaceSpec:
    """Everything ``create`` was asked for, after validation."""

    name: str
    namespace: str
    node: str
    hostname: str
    tunnel_name: str
    owns_namespace: bool = True
    dind_image: str = DIND_IMAGE
    tunnel_image: str = TUNNEL_IMAGE
    data_dir: Optional[str] = None
    docker_dir: Optional[str] = None
    ephemeral_docker: bool = False
    storage_class: Optional[str] = None
    data_size: str = "50Gi"
    docker_size: str = "100Gi"
    cpu: Optional[str] = None
    memory: Optional[str] = None
    gpus: int = 0

    def options(self):
        """Return the options recorded in the StatefulSet's annotation."""
        return {key: value for key, value in asdict(self).items() if key not in ("name", "namespace")}


def default_data_root(name, namespace, owns_namespace):
    """Return the node directory that contains a workspace's data by default.

    A workspace in its own namespace uses ``/var/lib/devspace/NAME``. One in a
    shared namespace (``-n``) uses ``/var/lib/devspace/NAMESPACE.NAME``, so
    that two workspaces with one name in two namespaces never share data.
    Neither kind of name contains a dot, so no root lies inside another.
    """
    if owns_namespace:
        return f"{DATA_ROOT}/{name}"
    return f"{DATA_ROOT}/{namespace}.{name}"


def labels(name, component):
    """Return the discovery labels of a workspace object."""
    return {
        MANAGED_BY_LABEL: MANAGED_BY,
        NAME_LABEL: APP_NAME,
        INSTANCE_LABEL: name,
        COMPONENT_LABEL: component,
    }


def selector(name=None):
    """Return the label selector that finds workspace objects (of one workspace, if named)."""
    parts = [f"{MANAGED_BY_LABEL}={MANAGED_BY}", f"{NAME_LABEL}={APP_NAME}"]
    if name:
        parts.append(f"{INSTANCE_LABEL}={name}")
    return ",".join(parts)


def secret_name(name):
    return f"{name}-docker-tls"


def namespace(spec):
    """Build the workspace's own namespace, which allows privileged pods for Docker-in-Docker."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": spec.namespace,
            "labels": {**labels(spec.name, "namespace"), **PRIVILEGED_LABELS},
        },
    }


def docker_tls_secret(spec, bundle=None):
    """Build the Secret with the Docker daemon's CA, server and client certificates.

    Without ``bundle`` the Secret has no data: that is the form ``--dry-run``
    prints, because certificates are generated only when the Secret is created.
    """
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(spec.name),
            "namespace": spec.namespace,
            "labels": labels(spec.name, "docker-tls"),
        },
        "type": "Opaque",
    }
    if bundle:
        secret["data"] = {key: base64.b64encode(value).decode("ascii") for key, value in bundle.items()}
    return secret


def service_account(spec):
    """Build the pod's ServiceAccount, whose token is never mounted: code in the workspace gets no API credentials."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": labels(spec.name, "service-account"),
        },
        "automountServiceAccountToken": False,
    }


def network_policy(spec):
    """Build a NetworkPolicy that denies all ingress to the pod, because the tunnel only dials out."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": labels(spec.name, "network-policy"),
        },
        "spec": {
            "podSelector": {"matchLabels": _pod_selector(spec.name)},
            "policyTypes": ["Ingress"],
        },
    }


def stateful_set(spec):
    """Build the StatefulSet that runs the workspace pod ``NAME-0``.

    One replica and a StatefulSet rather than a Deployment: a Deployment's
    rolling update can start a second pod while the first still runs, and
    two Docker daemons on one ``/var/lib/docker`` corrupt it. The pod name
    stays ``NAME-0``, and the VS Code CLI encrypts its stored login with the
    hostname.
    """
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": labels(spec.name, "workspace"),
            "annotations": {OPTIONS_ANNOTATION: json.dumps(spec.options(), sort_keys=True)},
        },
        "spec": {
            "replicas": 1,
            "serviceName": spec.name,
            "selector": {"matchLabels": _pod_selector(spec.name)},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": {
                "metadata": {"labels": labels(spec.name, "workspace")},
                "spec": pod_spec(spec),
            },
        },
    }

    claims = volume_claim_templates(spec)
    if claims:
        body["spec"]["volumeClaimTemplates"] = claims
    return body


def pod_spec(spec):
    """Build the workspace pod spec: the ``dind`` and ``tunnel`` containers and their volumes."""
    body = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "nodeSelector": {HOSTNAME_LABEL: spec.hostname},
        "terminationGracePeriodSeconds": 60,
        "containers": [dind_container(spec), tunnel_container(spec)],
        "volumes": volumes(spec),
    }
    if spec.gpus:
        body["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    return body


def dind_container(spec):
    """Build the Docker daemon container: privileged, reachable only on its unix socket and on 127.0.0.1:2376 with TLS."""
    # The image's `dind` wrapper sets up cgroup v2 nesting before dockerd
    # starts. The daemon's MTU is read from eth0 at start, because a 1500
    # MTU inside a smaller overlay network makes image pulls hang.
    script = (
        "set -eu\n"
        "mtu=$(cat /sys/class/net/eth0/mtu 2>/dev/null || echo 1500)\n"
        "exec dind dockerd"
        " --host=unix:///var/run/docker.sock"
        f" --host=tcp://127.0.0.1:{DOCKER_PORT}"
        " --tlsverify"
        f" --tlscacert={SERVER_CERT_DIR}/ca.pem"
        f" --tlscert={SERVER_CERT_DIR}/cert.pem"
        f" --tlskey={SERVER_CERT_DIR}/key.pem"
        ' --mtu="$mtu"\n'
    )

    container = {
        "name": "dind",
        "image": spec.dind_image,
        "command": ["sh", "-c", script],
        "securityContext": {"privileged": True},
        "readinessProbe": {
            "exec": {"command": ["docker", "info"]},
            "initialDelaySeconds": 2,
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "volumeMounts": [
            {"name": "docker-data", "mountPath": "/var/lib/docker"},
            {"name": "workspace-data", "mountPath": WORKSPACE_MOUNT},
            {"name": "docker-tls-server", "mountPath": SERVER_CERT_DIR, "readOnly": True},
        ],
    }

    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    return container


def tunnel_container(spec):
    """Build the VS Code CLI tunnel container. The image's entrypoint runs `code tunnel`, and the pod adds the name."""
    return {
        "name": "tunnel",
        "image": spec.tunnel_image,
        "args": ["--name", spec.tunnel_name],
        "env": [
            {"name": "DOCKER_HOST", "value": f"tcp://127.0.0.1:{DOCKER_PORT}"},
            {"name": "DOCKER_TLS_VERIFY", "value": "1"},
            {"name": "DOCKER_CERT_PATH", "value": CLIENT_CERT_DIR},
            # There is no keyring in the container: the file keychain keeps
            # the login across restarts.
            {"name": "VSCODE_CLI_USE_FILE_KEYCHAIN", "value": "1"},
        ],
        "volumeMounts": [
            {"name": "workspace-data", "mountPath": WORKSPACE_MOUNT},
            {"name": "docker-tls-client", "mountPath": CLIENT_CERT_DIR, "readOnly": True},
        ],
    }


def volumes(spec):
    """Build the pod volumes. With a storage class the data volumes come from volumeClaimTemplates instead."""
    result = []

    if not spec.storage_class:
        result.append(_host_path("workspace-data", data_paths(spec)["workspace"]))
    if spec.ephemeral_docker:
        result.append({"name": "docker-data", "emptyDir": {}})
    elif not spec.storage_class:
        result.append(_host_path("docker-data", data_paths(spec)["docker"]))

    result.append(_tls_volume(spec, "docker-tls-server", SERVER_CERT, SERVER_KEY, mode=0o400))
    # NOTE: the tunnel image's user is not known here, so the client files
    # are readable by every user of that container, not by root alone.
    result.append(_tls_volume(spec, "docker-tls-client", CLIENT_CERT, CLIENT_KEY, mode=0o444))
    return result


def volume_claim_templates(spec):
    """Build the PersistentVolumeClaim templates for the data when ``--storage-class`` is given."""
    if not spec.storage_class:
        return []

    claims = [_claim(spec, "workspace-data", spec.data_size)]
    if not spec.ephemeral_docker:
        claims.append(_claim(spec, "docker-data", spec.docker_size))
    return claims


def data_paths(spec):
    """Return where the workspace data and Docker data live on the node (None for non-hostPath)."""
    root = default_data_root(spec.name, spec.namespace, spec.owns_namespace)
    workspace = None if spec.storage_class else (spec.data_dir or f"{root}/data")

    if spec.ephemeral_docker or spec.storage_class:
        docker = None
    else:
        docker = spec.docker_dir or f"{root}/docker"
    return {"workspace": workspace, "docker": docker}


def workspace_objects(spec):
    """Return the objects ``create`` applies, in order; the TLS Secret is made separately, once."""
    objects = []
    if spec.owns_namespace:
        objects.append(namespace(spec))
    objects.extend([service_account(spec), network_policy(spec), stateful_set(spec)])
    return objects


def _pod_selector(name):
    return {NAME_LABEL: APP_NAME, INSTANCE_LABEL: name}


def _host_path(volume_name, path):
    return {"name": volume_name, "hostPath": {"path": path, "type": "DirectoryOrCreate"}}


def _tls_volume(spec, volume_name, cert_key, private_key, mode):
    items = [
        {"key": CA_CERT, "path": "ca.pem"},
        {"key": cert_key, "path": "cert.pem"},
        {"key": private_key, "path": "key.pem"},
    ]
    return {
        "name": volume_name,
        "secret": {"secretName": secret_name(spec.name), "items": items, "defaultMode": mode},
    }


def _claim(spec, claim_name, size):
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim_name, "labels": labels(spec.name, claim_name)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": spec.storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def _resources(spec):
    quantities = {}
    if spec.cpu:
        quantities["cpu"] = spec.cpu
    if spec.memory:
        quantities["memory"] = spec.memory
    if spec.gpus:
        quantities[GPU_RESOURCE] = str(spec.gpus)

    if not quantities:
        return {}
    return {"requests": dict(quantities), "limits": dict(quantities)}
