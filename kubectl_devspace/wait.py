"""Waiting for a workspace to become ready, and explaining why it cannot."""

import datetime
import time

from .describe import read_tunnel_state
from .tunnel_log import TunnelState
from .errors import NotFound, Timeout, Unreachable, WorkspaceFailed
from .workspaces import Workspace, get_pod, pod_problem, workspace_state

POLL_INTERVAL = 1.0
EVENT_CLOCK_SKEW = datetime.timedelta(seconds=5)

# How long `create` keeps reading the tunnel's log for a login code or URL
# after the pod is ready, within the overall --timeout.
TUNNEL_LOG_WAIT = 60.0

_PROGRESS = {
    "NoPod": "waiting for the StatefulSet controller to create pod {pod}",
    "Pending": "waiting for pod {pod} to be scheduled and started",
    "ContainerCreating": "pulling images and starting containers of pod {pod}",
    "PodInitializing": "pulling images and starting containers of pod {pod}",
    "Running": "pod {pod} is running; waiting for the Docker daemon to be ready",
    "Terminating": "waiting for the previous pod {pod} to stop",
}


def wait_until_ready(cluster, name, namespace, printer, timeout):
    """Poll until the workspace's current pod is Ready; return the ``Workspace``.

    Raises ``WorkspaceFailed`` as soon as a problem is certain (admission
    rejection, unschedulable pod, image pull failure, crash loop) and
    ``Timeout`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    started = datetime.datetime.now(datetime.timezone.utc)
    pod_label = f"{namespace}/{name}-0"
    last_progress = None

    while True:
        try:
            stateful_set = _get_stateful_set(cluster, name, namespace)
            pod = get_pod(cluster, name, namespace)
        except (Unreachable, Timeout) as error:
            # A restarting API server or a slow network ends no wait before its deadline.
            _check_deadline(deadline, timeout, name, namespace, "unknown: the API server did not answer")
            progress = f"retrying: {error.message}"
            if progress != last_progress:
                printer.progress(progress)
                last_progress = progress
            time.sleep(POLL_INTERVAL)
            continue
        workspace = Workspace(name, namespace, stateful_set, pod)

        problem = pod_problem(pod) if _is_current(stateful_set, pod) else None
        if problem is None and pod is None:
            problem = _creation_failure(cluster, name, namespace, started)
        if problem:
            raise WorkspaceFailed(f"workspace {name!r} cannot start: {problem}", hint=_hint(problem, name, namespace))

        state = workspace_state(workspace)
        if state == "Ready" and _is_current(stateful_set, pod):
            return workspace

        progress = _PROGRESS.get(state, "pod {pod} is {state}").format(pod=pod_label, state=state)
        if progress != last_progress:
            printer.progress(progress)
            last_progress = progress

        _check_deadline(deadline, timeout, name, namespace, state)
        time.sleep(POLL_INTERVAL)


def _check_deadline(deadline, timeout, name, namespace, state):
    if time.monotonic() >= deadline:
        raise Timeout(
            f"workspace {name!r} was not ready after {timeout:g}s (state: {state})",
            hint=f"run 'kubectl devspace status {name} -n {namespace}' to see why, or create again with a longer --timeout",
        )


def wait_for_tunnel(cluster, workspace, printer, timeout):
    """Read the tunnel's log until it shows a login code or URL, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    announced = False

    while True:
        try:
            state = read_tunnel_state(cluster, workspace)
        except (Unreachable, Timeout):
            # The workspace is ready already, so an unreachable API server
            # only delays the login code until the deadline.
            state = TunnelState()
        if state.state != "starting" or time.monotonic() >= deadline:
            return state

        if not announced:
            printer.progress("waiting for the tunnel to log a login code or URL")
            announced = True
        time.sleep(POLL_INTERVAL)


def wait_until_gone(cluster, kind, name, namespace, timeout):
    """Poll until ``kind``/``name`` no longer exists; raise ``Timeout`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster.get(kind, name, namespace)
        except NotFound:
            return

        if time.monotonic() >= deadline:
            raise Timeout(
                f"{kind} {name!r} in namespace {namespace!r} still exists after {timeout:g}s",
                hint="check its finalizers with kubectl, then run delete again",
            )
        time.sleep(POLL_INTERVAL)


def _hint(problem, name, namespace):
    if "PodSecurity" in problem:
        return (
            f"Docker-in-Docker needs a privileged pod: ask an administrator to label namespace {namespace} "
            "pod-security.kubernetes.io/enforce=privileged, or omit -n to let create make its own namespace"
        )
    return f"fix the cause, then run create again; 'kubectl devspace status {name} -n {namespace}' shows details"


def _get_stateful_set(cluster, name, namespace):
    try:
        return cluster.get("StatefulSet", name, namespace)
    except NotFound:
        raise WorkspaceFailed(
            f"StatefulSet {name!r} disappeared from namespace {namespace!r} while waiting",
            hint="someone deleted it; run create again",
        ) from None


def _is_current(stateful_set, pod):
    """Return True when ``pod`` runs the StatefulSet's latest template."""
    if pod is None:
        return False

    status = stateful_set.get("status", {})
    if status.get("observedGeneration", 0) < stateful_set["metadata"].get("generation", 0):
        return False

    update_revision = status.get("updateRevision")
    pod_revision = (pod["metadata"].get("labels") or {}).get("controller-revision-hash")
    return not update_revision or pod_revision == update_revision


def _creation_failure(cluster, name, namespace, started):
    """Return the message of a FailedCreate event for the StatefulSet (e.g. an admission rejection).

    Only events seen since ``started`` count, so a failure that an earlier
    run reported and the user has since fixed does not end this wait.
    """
    events = cluster.list(
        "Event",
        namespace,
        field_selector=f"involvedObject.kind=StatefulSet,involvedObject.name={name},reason=FailedCreate",
    )
    # NOTE: this compares the cluster's event time with this machine's clock;
    # a skew of more than EVENT_CLOCK_SKEW hides or revives an event.
    cutoff = started - EVENT_CLOCK_SKEW
    recent = [event for event in events if (last_seen(event) or started) >= cutoff]
    if not recent:
        return None

    latest = max(recent, key=lambda event: last_seen(event) or started)
    return f"the StatefulSet controller cannot create the pod: {latest.get('message', 'no message')}"


def last_seen(event):
    """Return when an event was last seen, as a datetime, or None."""
    value = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
