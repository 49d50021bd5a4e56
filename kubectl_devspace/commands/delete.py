"""``kubectl devspace delete``: remove what ``create`` made; keep node data unless purged."""

import sys

import click

from .. import describe, manifests
from ..cli import connection_options
from ..errors import DevspaceError, Forbidden, InvalidInput, NotFound
from ..names import default_namespace, pod_name, validate_workspace_name, workspace_arguments
from ..output import Printer
from ..purge import purge_job, purge_job_name, wait_for_job
from ..wait import wait_until_gone
from ..workspaces import find_workspace

# Kinds create makes inside the namespace. The StatefulSet goes last: it
# records the options that locate the data, so a delete that stops halfway
# can be run again.
WORKSPACE_KINDS = ("NetworkPolicy", "ServiceAccount", "Secret", "StatefulSet")

POD_STOP_TIMEOUT = 180.0
PURGE_TIMEOUT = 300.0


@click.command(
    "delete",
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  kubectl devspace delete alice\n"
        "  kubectl devspace delete alice --yes\n"
        "  kubectl devspace delete alice --purge\n\n"
        "delete removes the StatefulSet, pod, NetworkPolicy, ServiceAccount and "
        "TLS Secret, and the namespace when create made it. The workspace data "
        "and Docker data on the node are kept, and a later create with the same "
        "name and node finds them again, unless --purge is given and confirmed "
        "(interactively, or with --yes)."
    ),
)
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (also confirms --purge).")
@click.option("--purge", is_flag=True, help="Also delete the workspace data and Docker data on the node; irreversible.")
@connection_options
@click.pass_obj
def command(settings, name, yes, purge):
    """Delete workspace NAME, whatever the state of its pod."""
    printer = Printer()
    validate_workspace_name(name)

    cluster = settings.connect()
    try:
        workspace = find_workspace(cluster, name, settings.namespace)
    except NotFound:
        if _delete_leftover_namespace(cluster, name, settings.namespace, yes, printer):
            return
        raise

    namespace = workspace.namespace
    spec = workspace.spec
    locations = describe.data_locations(spec, workspace.node)
    owns_namespace = _owns_namespace(cluster, name, namespace)
    _confirm(name, namespace, purge, yes, locations, owns_namespace)
    claims = cluster.list("PersistentVolumeClaim", namespace, label_selector=manifests.selector(name))

    _stop_pod(cluster, name, namespace, printer, wait=purge)
    if purge:
        _purge_node_data(cluster, spec, namespace, printer)
        for claim in claims:
            _delete_quietly(cluster, "PersistentVolumeClaim", claim["metadata"]["name"], namespace)
            printer.progress(f"persistentvolumeclaim/{claim['metadata']['name']} deleted")
        claims = []

    _delete_objects(cluster, name, namespace, printer)
    others = _other_workspaces(cluster, name, namespace)
    if owns_namespace and others:
        printer.warning(f"namespace {namespace} is kept because it contains other workspaces: {', '.join(others)}")
    if owns_namespace and not claims and not others:
        _delete_quietly(cluster, "Namespace", namespace)
        printer.progress(f"namespace/{namespace} deleted")

    printer.line(f"Workspace {name} deleted from namespace {namespace}.")
    _report_data(printer, name, namespace, workspace.node, locations, claims, purge, owns_namespace)


def _confirm(name, namespace, purge, yes, locations, owns_namespace):
    if yes:
        return

    if not sys.stdin.isatty():
        raise InvalidInput(
            f"deleting workspace {name!r} needs confirmation, and stdin is not a terminal",
            hint="pass --yes to delete without asking",
        )

    question = f"Delete workspace {name} in namespace {namespace}"
    if owns_namespace:
        question += f", and the namespace {namespace} with everything in it"
    if not click.confirm(question + "?", default=False, err=True):
        raise DevspaceError("delete cancelled; nothing was deleted")

    if purge:
        click.echo("--purge deletes, irreversibly:", err=True)
        for line in describe.describe_data(locations):
            click.echo(f"  {line}", err=True)
        typed = click.prompt(f"Type the workspace name ({name}) to confirm", err=True, default="", show_default=False)
        if typed != name:
            raise DevspaceError("delete cancelled: the typed name did not match; nothing was deleted")


def _owns_namespace(cluster, name, namespace):
    try:
        labels = cluster.get("Namespace", namespace)["metadata"].get("labels") or {}
    except (NotFound, Forbidden):
        return False
    return (
        labels.get(manifests.MANAGED_BY_LABEL) == manifests.MANAGED_BY
        and labels.get(manifests.INSTANCE_LABEL) == name
    )


def _other_workspaces(cluster, name, namespace):
    """Return the names of the other workspaces in ``namespace``."""
    stateful_sets = cluster.list("StatefulSet", namespace, label_selector=manifests.selector())
    return sorted(item["metadata"]["name"] for item in stateful_sets if item["metadata"]["name"] != name)


def _stop_pod(cluster, name, namespace, printer, wait):
    """Scale the StatefulSet to zero so the pod stops, whatever its phase."""
    cluster.patch("StatefulSet", name, namespace, {"spec": {"replicas": 0}})
    printer.progress(f"statefulset/{name} scaled to 0")
    if wait:
        printer.progress(f"waiting for pod {namespace}/{pod_name(name)} to stop")
        wait_until_gone(cluster, "Pod", pod_name(name), namespace, POD_STOP_TIMEOUT)


def _delete_objects(cluster, name, namespace, printer):
    """Delete every object of the workspace found by its labels."""
    selector = manifests.selector(name)
    for kind in WORKSPACE_KINDS:
        for item in cluster.list(kind, namespace, label_selector=selector):
            item_name = item["metadata"]["name"]
            _delete_quietly(cluster, kind, item_name, namespace)
            printer.progress(f"{kind.lower()}/{item_name} deleted")


def _delete_quietly(cluster, kind, name, namespace=None):
    """Delete an object; one that is already gone counts as deleted."""
    try:
        cluster.delete(kind, name, namespace)
    except NotFound:
        pass


def _delete_leftover_namespace(cluster, name, namespace, yes, printer):
    """Delete the namespace an interrupted delete left behind; return False when there is none."""
    namespace = namespace or default_namespace(name)
    if not _owns_namespace(cluster, name, namespace):
        return False

    if _other_workspaces(cluster, name, namespace):
        return False

    _confirm(name, namespace, False, yes, {}, True)
    _delete_objects(cluster, name, namespace, printer)
    _delete_quietly(cluster, "Namespace", namespace)
    printer.line(f"Workspace {name} had no StatefulSet left; its namespace {namespace} is deleted.")
    return True


def _purge_node_data(cluster, spec, namespace, printer):
    """Empty the workspace's node directories with a Job on the node, then delete the Job."""
    if spec is None:
        printer.warning("the workspace's options annotation is unreadable, so its node directories are unknown; nothing purged")
        return

    job = purge_job(spec, namespace)
    if job is None:
        return

    job_name = purge_job_name(spec.name)
    _delete_quietly(cluster, "Job", job_name, namespace)
    wait_until_gone(cluster, "Job", job_name, namespace, POD_STOP_TIMEOUT)

    cluster.create(job)
    printer.progress(f"job/{job_name} started to delete the data on node {spec.node}")
    wait_for_job(cluster, job_name, namespace, PURGE_TIMEOUT)

    cluster.delete("Job", job_name, namespace)
    printer.progress(f"job/{job_name} finished")


def _report_data(printer, name, namespace, node, locations, claims, purge, owns_namespace):
    if purge:
        printer.line("Node data purged: " + "; ".join(describe.describe_data(locations)))
        return

    kept = describe.describe_data(locations)
    if not kept:
        return

    printer.line("Kept data:")
    for line in kept:
        printer.line(f"  {line}")
    if claims and owns_namespace:
        printer.line(f"  Namespace {namespace} is kept because it holds the PersistentVolumeClaims.")
    printer.line(
        f"'kubectl devspace create {workspace_arguments(name, namespace)} --node {node}' finds this data again; "
        "to remove it, create the workspace again and delete it with --purge."
    )
