"""``kubectl devspace exec-docker``: run a command in the ``dind`` container.

The command runs through ``kubectl exec`` with the same connection flags.
The Python client's exec stream loses exit codes in a race, truncates
output near 32 KiB and cannot close stdin before protocol v5; kubectl has
none of these faults, and a kubectl plugin always has a kubectl at hand.
"""

import os
import shutil
import sys

import click

from .. import kubectl_exec
from ..cli import connection_options
from ..errors import DevspaceError, NotFound
from ..names import pod_name, validate_workspace_name, workspace_arguments
from ..workspaces import find_workspace

DEFAULT_COMMAND = ("sh",)


@click.command(
    "exec-docker",
    context_settings={"ignore_unknown_options": True},
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  kubectl devspace exec-docker alice\n"
        "  kubectl devspace exec-docker alice -- docker ps\n"
        "  tar c project | kubectl devspace exec-docker alice -- tar x -C /vscode\n\n"
        "The command's exit status becomes this command's exit status. "
        "A terminal is allocated when stdin and stdout are terminals."
    ),
)
@click.argument("name")
@click.argument("exec_command", nargs=-1, type=click.UNPROCESSED, metavar="[-- COMMAND...]")
@connection_options
@click.pass_obj
def command(settings, name, exec_command):
    """Run COMMAND in workspace NAME's Docker container (default: an interactive shell)."""
    validate_workspace_name(name)
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise DevspaceError(
            "kubectl not found on PATH; exec-docker runs 'kubectl exec'",
            hint="install kubectl or add it to PATH",
        )

    cluster = settings.connect()
    workspace = find_workspace(cluster, name, settings.namespace)
    if workspace.pod is None or workspace.pod.get("status", {}).get("phase") != "Running":
        raise NotFound(
            f"workspace {name!r} has no running pod to run the command in",
            hint=f"run 'kubectl devspace status {workspace_arguments(name, workspace.namespace)}' to see its state",
        )

    arguments = [kubectl, "exec", "--quiet", *settings.kubectl_flags(), "-n", workspace.namespace]
    arguments += _stream_flags()
    arguments += [pod_name(name), "-c", "dind", "--", *(exec_command or DEFAULT_COMMAND)]

    sys.stdout.flush()
    sys.stderr.flush()
    return kubectl_exec.run(arguments)


def _stream_flags():
    """Return -i when stdin is open, and -t as well when stdin and stdout are terminals."""
    try:
        os.fstat(0)
    except OSError:
        return []

    if os.isatty(0) and os.isatty(1):
        return ["-i", "-t"]
    return ["-i"]
