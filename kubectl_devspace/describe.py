"""Workspace reports: the documents ``status -o json|yaml`` prints and their human form.

The keys of these documents are stable for scripts: fields may be added,
but existing ones keep their names and meaning.
"""

from . import manifests
from .errors import ApiError
from .names import pod_name, workspace_arguments
from .output import format_age
from .tunnel_log import TunnelState, parse_tunnel_log
from .workspaces import age_seconds, container_ready, container_state, workspace_state

# Lines of the tunnel's log read to find the latest login code or URL.
TUNNEL_LOG_LINES = 500
MAX_EVENTS = 10

TABLE_HEADERS = ["NAME", "NAMESPACE", "NODE", "STATE", "DOCKER", "TUNNEL", "AGE"]


def summary(workspace):
    """Return the document of one workspace as the list view shows it."""
    return {
        "name": workspace.name,
        "namespace": workspace.namespace,
        "node": workspace.node,
        "state": workspace_state(workspace),
        "dockerReady": container_ready(workspace.pod, "dind"),
        "tunnel": container_state(workspace.pod, "tunnel"),
        "createdAt": workspace.stateful_set["metadata"].get("creationTimestamp"),
    }


def table_row(document):
    """Return a row of the status table for a ``summary`` document."""
    return [
        document["name"],
        document["namespace"],
        document["node"] or "<none>",
        document["state"],
        "ready" if document["dockerReady"] else "not ready",
        document["tunnel"],
        format_age(age_seconds(document["createdAt"])),
    ]


def read_tunnel_state(cluster, workspace):
    """Return the tunnel's state from its log, or an empty state when no log can be read yet."""
    if not workspace.pod or workspace.pod.get("status", {}).get("phase") != "Running":
        return TunnelState()
    try:
        text = cluster.read_log(pod_name(workspace.name), workspace.namespace, "tunnel", tail_lines=TUNNEL_LOG_LINES)
    except ApiError:
        # A container that has not started yet has no log; that is not an error.
        return TunnelState()
    return parse_tunnel_log(text)


def detail(cluster, workspace):
    """Return the detailed document of one workspace: containers, tunnel, data, events, options."""
    document = summary(workspace)
    spec = workspace.spec
    tunnel = read_tunnel_state(cluster, workspace)

    document["hostname"] = (spec.hostname if spec else None)
    document["containers"] = _containers(workspace.pod)
    document["tunnel"] = {
        "container": container_state(workspace.pod, "tunnel"),
        "state": tunnel.state,
        "name": tunnel.tunnel_name,
        "url": tunnel.tunnel_url,
        "loginUrl": tunnel.login_url,
        "loginCode": tunnel.login_code,
    }
    document["data"] = data_locations(spec, workspace.node)
    document["events"] = _events(cluster, workspace)
    document["options"] = workspace.options
    return document


def data_locations(spec, node):
    """Return where the workspace's data and Docker's data are kept."""
    if spec is None:
        return {}

    paths = manifests.data_paths(spec)
    locations = {}
    for volume, path in (("workspace", paths["workspace"]), ("docker", paths["docker"])):
        if path:
            locations[volume] = {"type": "hostPath", "node": node, "path": path}
        elif volume == "docker" and spec.ephemeral_docker:
            locations[volume] = {"type": "emptyDir", "note": "deleted with the pod"}
        else:
            claim = "workspace-data" if volume == "workspace" else "docker-data"
            locations[volume] = {
                "type": "PersistentVolumeClaim",
                "claim": f"{claim}-{pod_name(spec.name)}",
                "storageClass": spec.storage_class,
            }
    return locations


def describe_data(locations):
    """Return human lines that tell where each kind of data lives."""
    lines = []
    for volume, label in (("workspace", "Workspace data (/vscode)"), ("docker", "Docker data")):
        location = locations.get(volume)
        if not location:
            continue
        if location["type"] == "hostPath":
            lines.append(f"{label}: {location['path']} on node {location['node']}")
        elif location["type"] == "emptyDir":
            lines.append(f"{label}: ephemeral, deleted with the pod")
        else:
            lines.append(f"{label}: PersistentVolumeClaim {location['claim']}")
    return lines


def connect_lines(name, namespace, tunnel_state):
    """Return human lines that tell how to reach the workspace from VS Code."""
    target = workspace_arguments(name, namespace)
    if tunnel_state.tunnel_url:
        return [
            f"Open in the browser: {tunnel_state.tunnel_url}",
            f"Or in VS Code: run 'Remote-Tunnels: Connect to Tunnel...' and choose {tunnel_state.tunnel_name}.",
        ]
    if tunnel_state.login_code:
        return [
            f"Log the tunnel in: open {tunnel_state.login_url} and enter the code {tunnel_state.login_code}",
            f"Then run 'kubectl devspace status {target}' to see the tunnel URL.",
        ]
    return [
        "The tunnel has not logged a login code or URL yet.",
        f"Run 'kubectl devspace logs {target} -f' to watch for it.",
    ]


def print_detail(printer, document):
    """Write the detailed document in human form."""
    printer.line(f"Name:       {document['name']}")
    printer.line(f"Namespace:  {document['namespace']}")
    printer.line(f"Node:       {document['node'] or '<none>'}")
    printer.line(f"State:      {document['state']}")
    printer.line(f"Age:        {format_age(age_seconds(document['createdAt']))}")

    printer.line("Containers:")
    for container in document["containers"]:
        ready = "ready" if container["ready"] else "not ready"
        printer.line(f"  {container['name']}: {container['state']}, {ready}, restarts {container['restarts']}")
    if not document["containers"]:
        printer.line("  <none: the pod has not started>")

    tunnel = document["tunnel"]
    printer.line(f"Tunnel:     {tunnel['state']}")
    state = TunnelState(tunnel["url"], tunnel["name"], tunnel["loginUrl"], tunnel["loginCode"])
    for line in connect_lines(document["name"], document["namespace"], state):
        printer.line(f"  {line}")

    printer.line("Data:")
    for line in describe_data(document["data"]):
        printer.line(f"  {line}")

    printer.line("Events:")
    for event in document["events"]:
        printer.line(f"  {event['type']}  {event['reason']}  {event['object']}: {event['message']}")
    if not document["events"]:
        printer.line("  <none>")


def _containers(pod):
    result = []
    for container in (pod or {}).get("status", {}).get("containerStatuses", []):
        result.append({
            "name": container["name"],
            "state": container_state(pod, container["name"]),
            "ready": bool(container.get("ready")),
            "restarts": container.get("restartCount", 0),
            "image": container.get("image"),
        })
    return result


def _events(cluster, workspace):
    names = {workspace.name, pod_name(workspace.name)}
    try:
        events = cluster.list("Event", workspace.namespace)
    except ApiError:
        return []

    related = [event for event in events if event.get("involvedObject", {}).get("name") in names]
    related.sort(key=_event_time)

    return [
        {
            "type": event.get("type", ""),
            "reason": event.get("reason", ""),
            "object": f"{event['involvedObject'].get('kind', '').lower()}/{event['involvedObject'].get('name', '')}",
            "message": (event.get("message") or "").strip(),
            "count": event.get("count") or 1,
            "lastSeen": _event_time(event),
        }
        for event in related[-MAX_EVENTS:]
    ]


def _event_time(event):
    return (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or event["metadata"].get("creationTimestamp")
        or ""
    )
