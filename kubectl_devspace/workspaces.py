"""Finding workspaces by their labels and summarising their state."""

import datetime
import json
from dataclasses import dataclass, fields
from typing import Optional

from . import manifests
from .errors import Forbidden, InvalidInput, NotFound
from .names import default_namespace, pod_name

# Container waiting reasons after which a workspace cannot become ready
# without a change by the user.
FATAL_WAITING_REASONS = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "InvalidImageName": "the image name is invalid",
    "CrashLoopBackOff": "the container keeps crashing",
    "CreateContainerConfigError": "the container configuration is invalid",
    "CreateContainerError": "the container cannot be created",
    "RunContainerError": "the container cannot be started",
}


@dataclass
class Workspace:
    """A workspace's StatefulSet and, when it exists, its pod."""

    name: str
    namespace: str
    stateful_set: dict
    pod: Optional[dict] = None

    @property
    def options(self):
        annotations = self.stateful_set.get("metadata", {}).get("annotations") or {}
        try:
            return json.loads(annotations.get(manifests.OPTIONS_ANNOTATION, "{}"))
        except ValueError:
            return {}

    @property
    def spec(self):
        """The ``WorkspaceSpec`` recorded by ``create``, or None if the annotation is unreadable."""
        known = {field.name for field in fields(manifests.WorkspaceSpec)}
        options = {key: value for key, value in self.options.items() if key in known}
        try:
            return manifests.WorkspaceSpec(name=self.name, namespace=self.namespace, **options)
        except TypeError:
            return None

    @property
    def node(self):
        if self.pod and self.pod.get("spec", {}).get("nodeName"):
            return self.pod["spec"]["nodeName"]
        return self.options.get("node", "")

    @property
    def created(self):
        return _parse_time(self.stateful_set["metadata"].get("creationTimestamp"))


def find_workspace(cluster, name, namespace=None):
    """Return workspace ``name``, looked up in ``namespace`` or else across namespaces.

    Without a namespace the workspace is found by its labels in every
    namespace the user may list; a user who may not list across namespaces
    gets the default namespace ``devspace-NAME``.
    """
    if namespace:
        stateful_set = _get_managed_stateful_set(cluster, name, namespace)
    else:
        stateful_set = _search_stateful_set(cluster, name)

    found_namespace = stateful_set["metadata"]["namespace"]
    return Workspace(name, found_namespace, stateful_set, get_pod(cluster, name, found_namespace))


def get_pod(cluster, name, namespace):
    """Return the workspace's pod, or None when it does not exist."""
    try:
        return cluster.get("Pod", pod_name(name), namespace)
    except NotFound:
        return None


def list_workspaces(cluster, namespace=None):
    """Return all visible workspaces with one list call for StatefulSets and one for pods.

    Without a namespace the lists span all namespaces; when the user may not
    list across namespaces they cover the kubeconfig context's namespace.
    """
    selector = manifests.selector()
    scope = namespace

    try:
        stateful_sets = cluster.list("StatefulSet", scope, label_selector=selector)
    except Forbidden:
        if namespace:
            raise
        scope = cluster.connection.namespace
        try:
            stateful_sets = cluster.list("StatefulSet", scope, label_selector=selector)
        except Forbidden as error:
            raise Forbidden(
                f"you may not list workspaces across namespaces, nor in namespace {scope!r}: {error.message}",
                hint="pass -n NAMESPACE with a namespace where you have workspaces",
            ) from None

    pods = cluster.list("Pod", scope, label_selector=selector)
    pods_by_key = {(pod["metadata"]["namespace"], pod["metadata"]["name"]): pod for pod in pods}

    workspaces = []
    for stateful_set in stateful_sets:
        metadata = stateful_set["metadata"]
        name = metadata["name"]
        pod = pods_by_key.get((metadata["namespace"], pod_name(name)))
        workspaces.append(Workspace(name, metadata["namespace"], stateful_set, pod))

    workspaces.sort(key=lambda workspace: (workspace.namespace, workspace.name))
    return workspaces, scope


def workspace_state(workspace):
    """Return one word for the workspace's state, as the STATE column shows it."""
    pod = workspace.pod
    if pod is None:
        return "NoPod"
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"

    status = pod.get("status", {})
    phase = status.get("phase", "Unknown")
    if phase in ("Failed", "Succeeded", "Unknown"):
        return phase

    if _condition(pod, "PodScheduled", "False", reason="Unschedulable"):
        return "Unschedulable"

    for container in status.get("containerStatuses", []):
        reason = container.get("state", {}).get("waiting", {}).get("reason")
        if reason and reason != "ContainerCreating":
            return reason

    if phase == "Running" and _condition(pod, "Ready", "True"):
        return "Ready"
    return phase


def container_ready(pod, container_name):
    """Return True when ``container_name`` in ``pod`` is ready."""
    for container in (pod or {}).get("status", {}).get("containerStatuses", []):
        if container.get("name") == container_name:
            return bool(container.get("ready"))
    return False


def container_state(pod, container_name):
    """Return a short state for a container: running, waiting: REASON, terminated: REASON or unknown."""
    for container in (pod or {}).get("status", {}).get("containerStatuses", []):
        if container.get("name") != container_name:
            continue

        state = container.get("state", {})
        if "running" in state:
            return "running"
        if "waiting" in state:
            return f"waiting: {state['waiting'].get('reason', 'unknown')}"
        if "terminated" in state:
            return f"terminated: {state['terminated'].get('reason', 'unknown')}"

    if pod and not pod["metadata"].get("deletionTimestamp"):
        return "not started"
    return "unknown"


def pod_problem(pod):
    """Return why the pod cannot become ready, or None while it still may."""
    if pod is None:
        return None

    scheduled = _condition(pod, "PodScheduled", "False", reason="Unschedulable")
    if scheduled:
        return f"pod {pod['metadata']['name']} cannot be scheduled: {scheduled.get('message', 'no reason given')}"

    status = pod.get("status", {})
    for container in status.get("initContainerStatuses", []) + status.get("containerStatuses", []):
        waiting = container.get("state", {}).get("waiting", {})
        explanation = FATAL_WAITING_REASONS.get(waiting.get("reason"))
        if explanation:
            detail = waiting.get("message") or waiting["reason"]
            return f"container {container['name']}: {explanation} ({waiting['reason']}: {detail})"

    if status.get("phase") == "Failed":
        return f"pod {pod['metadata']['name']} failed: {status.get('message') or status.get('reason') or 'no reason given'}"
    return None


def age_seconds(timestamp, now=None):
    """Return seconds since an RFC 3339 timestamp, or None when it is missing."""
    created = _parse_time(timestamp) if isinstance(timestamp, str) else timestamp
    if created is None:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (now - created).total_seconds()


def _get_managed_stateful_set(cluster, name, namespace):
    try:
        stateful_set = cluster.get("StatefulSet", name, namespace)
    except NotFound:
        raise NotFound(
            f"workspace {name!r} not found in namespace {namespace!r}",
            hint="run 'kubectl devspace status' to list workspaces",
        ) from None

    labels = stateful_set["metadata"].get("labels") or {}
    if labels.get(manifests.MANAGED_BY_LABEL) != manifests.MANAGED_BY:
        raise NotFound(
            f"StatefulSet {name!r} in namespace {namespace!r} is not a workspace "
            f"(it lacks the label {manifests.MANAGED_BY_LABEL}={manifests.MANAGED_BY})"
        )
    return stateful_set


def _search_stateful_set(cluster, name):
    try:
        found = cluster.list("StatefulSet", None, label_selector=manifests.selector(name))
    except Forbidden:
        return _search_own_namespaces(cluster, name)

    found = [item for item in found if item["metadata"]["name"] == name]
    if not found:
        raise NotFound(
            f"workspace {name!r} not found in any namespace",
            hint="run 'kubectl devspace status' to list workspaces, or pass -n NAMESPACE",
        )
    if len(found) > 1:
        namespaces = ", ".join(sorted(item["metadata"]["namespace"] for item in found))
        raise InvalidInput(
            f"workspace {name!r} exists in several namespaces: {namespaces}",
            hint="pass -n NAMESPACE to choose one",
        )
    return found[0]


def _search_own_namespaces(cluster, name):
    """Look in ``devspace-NAME``, then in the kubeconfig context's namespace, for a user who may not list all."""
    candidates = [default_namespace(name)]
    if cluster.connection.namespace not in candidates:
        candidates.append(cluster.connection.namespace)

    for namespace in candidates:
        try:
            return _get_managed_stateful_set(cluster, name, namespace)
        except (NotFound, Forbidden):
            continue

    raise NotFound(
        f"workspace {name!r} not found in namespace {' or '.join(repr(namespace) for namespace in candidates)}, "
        "and you may not search all namespaces",
        hint="pass -n NAMESPACE with the workspace's namespace",
    )


def _condition(pod, condition_type, status, reason=None):
    for condition in pod.get("status", {}).get("conditions", []):
        if condition.get("type") != condition_type or condition.get("status") != status:
            continue
        if reason is None or condition.get("reason") == reason:
            return condition
    return None


def _parse_time(value):
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
