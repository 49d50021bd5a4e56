"""Checks ``create`` makes before it changes anything: node, namespace, permissions."""

import posixpath

from . import manifests
from .errors import Forbidden, InvalidInput, NotFound, WorkspaceFailed

# (verb, kind, subresource) the user needs inside the workspace's namespace.
NAMESPACED_PERMISSIONS = [
    ("get", "Secret", None),
    ("create", "Secret", None),
    ("create", "ServiceAccount", None),
    ("patch", "ServiceAccount", None),
    ("create", "NetworkPolicy", None),
    ("patch", "NetworkPolicy", None),
    ("create", "StatefulSet", None),
    ("patch", "StatefulSet", None),
    ("get", "StatefulSet", None),
    ("get", "Pod", None),
    ("get", "Pod", "log"),
    ("list", "Event", None),
]

NAMESPACE_PERMISSIONS = [("create", "Namespace", None), ("patch", "Namespace", None)]


def check_node(cluster, node_name, gpus=0):
    """Return the node object after checking that it can run the workspace.

    The node must exist, be Ready and be schedulable, have ``gpus``
    allocatable GPUs when GPUs are requested, and carry the
    ``kubernetes.io/hostname`` label that pins the pod.
    """
    try:
        node = cluster.get("Node", node_name)
    except NotFound:
        raise NotFound(
            f"node {node_name!r} not found",
            hint="choose a node from 'kubectl get nodes'",
        ) from None
    except Forbidden as error:
        raise Forbidden(
            f"cannot read node {node_name!r}: {error.message}",
            hint="picking a node needs 'get' on nodes; ask a cluster administrator for it",
        ) from None

    ready = _ready_condition(node)
    if not ready or ready.get("status") != "True":
        detail = f"{ready.get('reason', '')}: {ready.get('message', '')}".strip(": ") if ready else "no Ready condition"
        raise WorkspaceFailed(
            f"node {node_name!r} is not Ready ({detail})",
            hint="choose a Ready node from 'kubectl get nodes'",
        )

    if node.get("spec", {}).get("unschedulable"):
        raise WorkspaceFailed(
            f"node {node_name!r} is cordoned (unschedulable), so no new pod can start on it",
            hint="choose another node, or ask an administrator to run 'kubectl uncordon " + node_name + "'",
        )

    if gpus:
        allocatable = node.get("status", {}).get("allocatable", {}).get(manifests.GPU_RESOURCE, "0")
        if int(allocatable) < gpus:
            raise WorkspaceFailed(
                f"node {node_name!r} has {allocatable} allocatable {manifests.GPU_RESOURCE}, fewer than the {gpus} requested",
                hint="choose a GPU node or request fewer GPUs with --gpus",
            )

    hostname = (node["metadata"].get("labels") or {}).get(manifests.HOSTNAME_LABEL)
    if not hostname:
        raise WorkspaceFailed(
            f"node {node_name!r} has no {manifests.HOSTNAME_LABEL} label to pin the pod with",
            hint="ask an administrator to label the node, or choose another node",
        )
    return node


def blocking_taints(node, tolerated_keys=()):
    """Return the node's NoSchedule and NoExecute taints that the workspace pod does not tolerate."""
    taints = node.get("spec", {}).get("taints") or []
    return [
        taint for taint in taints
        if taint.get("effect") in ("NoSchedule", "NoExecute") and taint.get("key") not in tolerated_keys
    ]


def check_namespace(cluster, name, namespace):
    """Return whether ``create`` owns ``namespace``, after checking it can be used.

    ``create`` owns a namespace that does not exist yet or that it made
    before (labelled for this workspace); it uses any other existing
    namespace as it is.
    """
    try:
        existing = cluster.get("Namespace", namespace)
    except (NotFound, Forbidden):
        # A user who may not read the namespace may not create it either;
        # the permission check that follows reports that.
        return True

    if existing.get("status", {}).get("phase") == "Terminating":
        raise WorkspaceFailed(
            f"namespace {namespace!r} is being deleted",
            hint="wait until 'kubectl get namespace " + namespace + "' reports it gone, then run create again",
        )

    labels = existing["metadata"].get("labels") or {}
    return (
        labels.get(manifests.MANAGED_BY_LABEL) == manifests.MANAGED_BY
        and labels.get(manifests.INSTANCE_LABEL) == name
    )


def require_namespace(cluster, namespace):
    """Raise ``NotFound`` when the namespace given with ``-n`` does not exist."""
    try:
        cluster.get("Namespace", namespace)
    except NotFound:
        raise NotFound(
            f"namespace {namespace!r} not found",
            hint="create the namespace first, or omit -n to let create make devspace-NAME",
        ) from None
    except Forbidden:
        # Users limited to one namespace often may not read Namespace objects;
        # the next request in that namespace shows whether it exists.
        pass


def check_permissions(cluster, namespace, owns_namespace):
    """Raise ``Forbidden`` naming every permission ``create`` needs that the user lacks."""
    required = list(NAMESPACED_PERMISSIONS)
    if owns_namespace:
        required = NAMESPACE_PERMISSIONS + required

    missing = []
    for verb, kind, subresource in required:
        scope = None if kind == "Namespace" else namespace
        try:
            allowed = cluster.can_i(verb, kind, scope, subresource)
        except Forbidden:
            # A cluster that refuses access reviews cannot be asked; the
            # requests themselves will show any missing permission.
            return
        if not allowed:
            missing.append(_describe_permission(verb, kind, subresource, scope))

    if missing:
        raise Forbidden(
            "missing permissions to create the workspace: you may not " + "; ".join(missing),
            hint="ask a cluster administrator for a Role with these permissions, "
            "or pass -n with a namespace where you have them",
        )


# Node directories that must never hold workspace data: `delete --purge`
# empties the data directories, and these belong to the system.
PROTECTED_DIRECTORIES = {
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt",
    "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib",
    "/var/lib/containerd", "/var/lib/devspace", "/var/lib/docker", "/var/lib/kubelet", "/var/log",
}

# System trees: no directory inside them may contain workspace data either.
PROTECTED_TREES = (
    "/bin/", "/boot/", "/dev/", "/etc/", "/lib/", "/lib32/", "/lib64/", "/proc/", "/root/", "/run/", "/sbin/",
    "/sys/", "/usr/", "/nix/", "/snap/", "/opt/cni/", "/var/lib/apt/", "/var/lib/cni/", "/var/lib/containerd/",
    "/var/lib/containers/", "/var/lib/docker/", "/var/lib/dpkg/", "/var/lib/etcd/", "/var/lib/kubelet/",
    "/var/lib/rancher/", "/var/lib/systemd/", "/var/lock/", "/var/log/", "/var/run/", "/var/snap/",
)


def validate_storage_options(data_dir, docker_dir, ephemeral_docker, storage_class, own_root=None):
    """Raise ``InvalidInput`` for data options that contradict each other or are unsafe.

    ``delete --purge`` empties the data directories, so they must not be
    system directories, nor lie in another workspace's directory under
    /var/lib/devspace: there only ``own_root``, the workspace's default
    root, is allowed.
    """
    for flag, path in (("--data-dir", data_dir), ("--docker-dir", docker_dir)):
        if path is None:
            continue
        if not path.startswith("/"):
            raise InvalidInput(f"invalid {flag} {path!r}: use an absolute path on the node")
        if ".." in path.split("/"):
            raise InvalidInput(f"invalid {flag} {path!r}: the path must not contain '..'")

        normalized = posixpath.normpath("/" + path.lstrip("/"))
        if normalized in PROTECTED_DIRECTORIES or (normalized + "/").startswith(PROTECTED_TREES):
            raise InvalidInput(
                f"invalid {flag} {path!r}: that is a system directory of the node",
                hint="use a dedicated directory, such as /data/NAME",
            )


    if own_root:
        check_data_root(data_dir, docker_dir, own_root)

    if data_dir and docker_dir and _overlap(data_dir, docker_dir):
        raise InvalidInput(
            f"--data-dir {data_dir!r} and --docker-dir {docker_dir!r} overlap: "
            "Docker's data and the workspace data need separate directories, neither inside the other"
        )
    if ephemeral_docker and docker_dir:
        raise InvalidInput("--ephemeral-docker and --docker-dir contradict each other: pass one of them")
    if storage_class and (data_dir or docker_dir):
        raise InvalidInput("--storage-class puts the data on PersistentVolumeClaims: drop --data-dir and --docker-dir")


def check_data_root(data_dir, docker_dir, own_root):
    """Raise ``InvalidInput`` when a data directory lies under /var/lib/devspace but outside ``own_root``."""
    for flag, path in (("--data-dir", data_dir), ("--docker-dir", docker_dir)):
        if path is None:
            continue

        normalized = posixpath.normpath("/" + path.lstrip("/"))
        if normalized.startswith(manifests.DATA_ROOT + "/") and not normalized.startswith(own_root + "/"):
            raise InvalidInput(
                f"invalid {flag} {path!r}: directories under {manifests.DATA_ROOT} belong to other workspaces",
                hint=f"omit {flag} to use {own_root}, or use a directory outside {manifests.DATA_ROOT}",
            )


def check_separate(paths):
    """Raise ``InvalidInput`` when the resolved data and Docker directories overlap."""
    if paths["workspace"] and paths["docker"] and _overlap(paths["workspace"], paths["docker"]):
        raise InvalidInput(
            f"the workspace data {paths['workspace']!r} and Docker data {paths['docker']!r} overlap: "
            "pass --data-dir and --docker-dir with separate directories"
        )


def _overlap(first, second):
    first = posixpath.normpath("/" + first.lstrip("/")) + "/"
    second = posixpath.normpath("/" + second.lstrip("/")) + "/"
    return first.startswith(second) or second.startswith(first)


def _ready_condition(node):
    for condition in node.get("status", {}).get("conditions", []):
        if condition.get("type") == "Ready":
            return condition
    return None


def _describe_permission(verb, kind, subresource, namespace):
    from .cluster import RESOURCES, api_group

    resource = RESOURCES[kind][1]
    group = api_group(kind)
    qualified = f"{resource}.{group}" if group else resource
    if subresource:
        qualified += f"/{subresource}"

    where = f" in namespace {namespace!r}" if namespace else " (cluster-wide)"
    return f"{verb} {qualified}{where}"
