"""``kubectl devspace create``: check, apply, wait, and print how to connect."""

import posixpath
import re
import time

import click

from .. import certificates, describe, manifests, preflight
from ..cli import connection_options
from ..durations import parse_positive_duration
from ..errors import Conflict, Forbidden, Invalid, InvalidInput, NotFound
from ..names import default_namespace, default_tunnel_name, validate_tunnel_name, validate_workspace_name, workspace_arguments
from ..output import OUTPUT_FORMATS, Printer
from ..wait import TUNNEL_LOG_WAIT, wait_for_tunnel, wait_until_ready

# Kubernetes resource quantities: a decimal number with an optional exponent
# or suffix (500m, 2, .5, 1e3, 8Gi, 1.5G).
_QUANTITY = re.compile(r"(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")


_DEFAULT_SIZES = {"data_size": "50Gi", "docker_size": "100Gi"}


@click.command(
    "create",
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  kubectl devspace create alice --node gpu-node-1\n"
        "  kubectl devspace create alice --node gpu-node-1 --gpus 1 --memory 32Gi\n"
        "  kubectl devspace create alice --node n1 --dry-run -o yaml\n\n"
        "Running create again with the same options changes nothing; with other "
        "options it updates the workspace, and its pod restarts. The Docker TLS "
        "Secret is made once and kept. create fails before changing anything when "
        "the node is missing, not Ready or cordoned, or permissions are missing. "
        "Once the pod is ready, create reads the tunnel's log for up to 60 seconds "
        "(within --timeout) to print the login code or the tunnel URL."
    ),
)
@click.argument("name")
@click.option("--node", required=True, metavar="NODE", help="Node to run the workspace on (a name from 'kubectl get nodes').")
@click.option("--tunnel-name", metavar="NAME", help="VS Code tunnel name, at most 20 of [a-z0-9-]. Default: the first 20 characters of NAME.")
@click.option("--data-dir", metavar="PATH", help="Node directory for the workspace data mounted at /vscode. Default: /var/lib/devspace/NAME/data.")
@click.option("--docker-dir", metavar="PATH", help="Node directory for Docker's data (/var/lib/docker). Default: /var/lib/devspace/NAME/docker.")
@click.option("--ephemeral-docker", is_flag=True, help="Keep Docker's data in an emptyDir, deleted with the pod.")
@click.option("--storage-class", metavar="CLASS", help="Put the data on PersistentVolumeClaims of this StorageClass instead of node directories.")
@click.option("--data-size", default=_DEFAULT_SIZES["data_size"], show_default=True, metavar="QUANTITY", help="Size of the workspace data claim (with --storage-class).")
@click.option("--docker-size", default=_DEFAULT_SIZES["docker_size"], show_default=True, metavar="QUANTITY", help="Size of the Docker data claim (with --storage-class).")
@click.option("--cpu", metavar="QUANTITY", help="CPU request and limit of the Docker container, e.g. 4 or 500m.")
@click.option("--memory", metavar="QUANTITY", help="Memory request and limit of the Docker container, e.g. 16Gi.")
@click.option("--gpus", type=click.IntRange(min=0), default=0, help="Number of nvidia.com/gpu for the Docker container.")
@click.option("--image", "tunnel_image", default=manifests.TUNNEL_IMAGE, show_default=True, help="Image of the VS Code tunnel container.")
@click.option("--dind-image", default=manifests.DIND_IMAGE, show_default=True, help="Image of the Docker daemon container.")
@click.option("--dry-run", is_flag=True, help="Print the objects create would apply and change nothing.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the workspace is ready.")
@click.option("--timeout", default="10m", show_default=True, metavar="DURATION", help="How long to wait, e.g. 90s or 10m.")
@click.option("-o", "--output", "output_format", type=click.Choice(OUTPUT_FORMATS), help="Print the result (with --dry-run, the objects) as json or yaml.")
@connection_options
@click.pass_obj
def command(settings, name, node, output_format, dry_run, wait, timeout, **options):
    """Create the workspace NAME on node NODE, or update it.

    The workspace is one pod with a Docker daemon and a VS Code tunnel, kept
    by a StatefulSet in the namespace devspace-NAME (or the namespace given
    with -n). create waits until it is ready and prints how to connect: the
    tunnel URL, or the login URL and code when the tunnel waits for a login.
    """
    printer = Printer()
    wait_seconds = parse_positive_duration(timeout, "--timeout", "90s or 10m")
    _validate(name, node, options)

    cluster = settings.connect()
    namespace, owns_namespace = _resolve_namespace(cluster, settings, name, printer)
    if not dry_run:
        if not owns_namespace:
            preflight.require_namespace(cluster, namespace)
        preflight.check_permissions(cluster, namespace, owns_namespace)

    spec = _plan(cluster, name, node, namespace, owns_namespace, options, printer)
    objects = manifests.workspace_objects(spec)

    if dry_run:
        printer.documents(_dry_run_objects(spec, objects), output_format or "yaml")
        printer.progress(
            f"note: Secret {manifests.secret_name(name)} is shown without data; create generates its certificates"
        )
        return

    _apply(cluster, spec, objects, printer)

    if not wait:
        printer.progress(f"workspace {name} applied; not waiting (--no-wait)")
        _report(cluster, spec, printer, output_format, None)
        return

    started = time.monotonic()
    workspace = wait_until_ready(cluster, spec.name, spec.namespace, printer, wait_seconds)
    remaining = max(0.0, wait_seconds - (time.monotonic() - started))
    tunnel_state = wait_for_tunnel(cluster, workspace, printer, min(remaining, TUNNEL_LOG_WAIT))

    _report(cluster, spec, printer, output_format, tunnel_state)


def _validate(name, node, options):
    validate_workspace_name(name)
    if not node.strip():
        raise InvalidInput("invalid --node: the node name is empty", hint="choose a node from 'kubectl get nodes'")

    tunnel_name = _tunnel_name(name, options)
    validate_tunnel_name(tunnel_name)

    for flag in ("cpu", "memory", "data_size", "docker_size"):
        value = options[flag]
        match = _QUANTITY.fullmatch(value) if value is not None else None
        if value is not None and (not match or float(match.group("number")) <= 0):
            raise InvalidInput(
                f"invalid --{flag.replace('_', '-')} {value!r}: use a positive Kubernetes quantity such as 4, 500m or 16Gi"
            )

    preflight.validate_storage_options(
        options["data_dir"], options["docker_dir"], options["ephemeral_docker"], options["storage_class"]
    )

    for flag in ("data_size", "docker_size"):
        if options[flag] != _DEFAULT_SIZES[flag] and not options["storage_class"]:
            raise InvalidInput(
                f"--{flag.replace('_', '-')} sets the size of a PersistentVolumeClaim and needs --storage-class"
            )

    for flag in ("tunnel_image", "dind_image"):
        image = options[flag]
        if not image or any(character.isspace() for character in image):
            option = "--image" if flag == "tunnel_image" else "--dind-image"
            raise InvalidInput(f"invalid {option} {image!r}: use an image reference such as docker:28-dind")


def _tunnel_name(name, options):
    if options["tunnel_name"] is None:
        return default_tunnel_name(name)
    return options["tunnel_name"]


def _resolve_namespace(cluster, settings, name, printer):
    """Return the workspace's namespace and whether ``create`` makes and owns it."""
    if settings.namespace:
        return settings.namespace, False

    namespace = default_namespace(name)
    owns_namespace = preflight.check_namespace(cluster, name, namespace)
    if not owns_namespace:
        printer.warning(f"namespace {namespace} exists and was not made by create; using it as it is")
    return namespace, owns_namespace


def _plan(cluster, name, node, namespace, owns_namespace, options, printer):
    """Check the node and return the ``WorkspaceSpec`` to apply."""
    own_root = manifests.default_data_root(name, namespace, owns_namespace)
    preflight.check_data_root(options["data_dir"], options["docker_dir"], own_root)

    node_object = preflight.check_node(cluster, node, options["gpus"])
    hostname = node_object["metadata"]["labels"][manifests.HOSTNAME_LABEL]
    tolerated = (manifests.GPU_RESOURCE,) if options["gpus"] else ()
    for taint in preflight.blocking_taints(node_object, tolerated):
        printer.warning(
            f"node {node} has the taint {taint['key']}:{taint['effect']}, which the workspace pod does not tolerate"
        )

    _warn_if_moved(cluster, name, namespace, node, printer)

    spec = manifests.WorkspaceSpec(
        name=name,
        namespace=namespace,
        node=node,
        hostname=hostname,
        tunnel_name=_tunnel_name(name, options),
        owns_namespace=owns_namespace,
        dind_image=options["dind_image"],
        tunnel_image=options["tunnel_image"],
        data_dir=_normalized(options["data_dir"]),
        docker_dir=_normalized(options["docker_dir"]),
        ephemeral_docker=options["ephemeral_docker"],
        storage_class=options["storage_class"],
        data_size=options["data_size"],
        docker_size=options["docker_size"],
        cpu=options["cpu"],
        memory=options["memory"],
        gpus=options["gpus"],
    )
    preflight.check_separate(manifests.data_paths(spec))
    return spec


def _normalized(path):
    return posixpath.normpath("/" + path.lstrip("/")) if path else path


def _warn_if_moved(cluster, name, namespace, node, printer):
    from ..workspaces import Workspace

    try:
        existing = cluster.get("StatefulSet", name, namespace)
    except (NotFound, Forbidden):
        return

    previous_node = Workspace(name, namespace, existing).options.get("node")
    if previous_node and previous_node != node:
        printer.warning(
            f"workspace {name} runs on node {previous_node}; moving it to {node} starts it with the data on {node}, "
            f"and its data on {previous_node} stays there"
        )


def _dry_run_objects(spec, objects):
    secret = manifests.docker_tls_secret(spec)
    if spec.owns_namespace:
        return [objects[0], secret, *objects[1:]]
    return [secret, *objects]


def _apply(cluster, spec, objects, printer):
    if spec.owns_namespace:
        cluster.apply(objects[0])
        printer.progress(f"namespace/{spec.namespace} applied")
        objects = objects[1:]

    _ensure_docker_tls(cluster, spec, printer)

    for body in objects:
        kind = body["kind"]
        try:
            cluster.apply(body)
        except Invalid as error:
            message = error.message
            hint = None
            # Kubernetes 1.37 names the field; earlier versions list the fields that may change.
            if "spec.volumeClaimTemplates" in message or "updates to statefulset spec for fields other than" in message:
                message = "a StatefulSet's volumeClaimTemplates and selector cannot change"
                hint = (
                    "run create with the original storage options, or delete the workspace "
                    "(its data is kept) and create it again"
                )
            raise Invalid(f"the API server rejected {kind} {spec.namespace}/{spec.name}: {message}", hint=hint) from None
        printer.progress(f"{kind.lower()}/{spec.name} applied")


def _ensure_docker_tls(cluster, spec, printer):
    """Create the Docker TLS Secret once; reuse it afterwards so a running daemon keeps working."""
    name = manifests.secret_name(spec.name)
    try:
        existing = cluster.get("Secret", name, spec.namespace)
    except NotFound:
        existing = None

    if existing and certificates.is_complete(existing.get("data") or {}):
        printer.progress(f"secret/{name} exists; reusing its certificates")
        return

    bundle = certificates.generate_docker_tls(spec.name)
    secret = manifests.docker_tls_secret(spec, bundle)

    if existing:
        # A Secret missing keys cannot serve the daemon; replace its data.
        cluster.apply(secret)
        printer.progress(f"secret/{name} was incomplete; new certificates applied")
        return

    try:
        cluster.create(secret)
    except Conflict:
        # Another create made it between the read and this request.
        printer.progress(f"secret/{name} exists; reusing its certificates")
        return
    printer.progress(f"secret/{name} created with new certificates")


def _report(cluster, spec, printer, output_format, tunnel_state):
    if output_format:
        from ..workspaces import find_workspace

        workspace = find_workspace(cluster, spec.name, spec.namespace)
        printer.document(describe.detail(cluster, workspace), output_format)
        return

    if tunnel_state is None:
        printer.line(f"Workspace {spec.name} applied in namespace {spec.namespace}, pinned to node {spec.node}.")
        printer.line(f"Run 'kubectl devspace status {workspace_arguments(spec.name, spec.namespace)}' to follow it.")
        return

    printer.line(f"Workspace {spec.name} is ready on node {spec.node} (namespace {spec.namespace}).")
    for line in describe.connect_lines(spec.name, spec.namespace, tunnel_state):
        printer.line(line)
