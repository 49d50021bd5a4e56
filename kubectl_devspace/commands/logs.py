"""``kubectl devspace logs``: the tunnel's log (where the login code appears) or the daemon's."""

import sys

import click

from ..cli import connection_options
from ..durations import parse_positive_duration
from ..errors import NotFound
from ..names import pod_name, validate_workspace_name, workspace_arguments
from ..workspaces import container_state, find_workspace


@click.command(
    "logs",
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  kubectl devspace logs alice\n"
        "  kubectl devspace logs alice -f\n"
        "  kubectl devspace logs alice -c dind --since 10m --tail 100"
    ),
)
@click.argument("name")
@click.option("-c", "--container", type=click.Choice(["tunnel", "dind"]), default="tunnel", show_default=True, help="Container whose log to print.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until interrupted (Ctrl-C).")
@click.option("--tail", type=click.IntRange(min=-1), default=-1, metavar="LINES", help="Print only the last LINES lines; -1 prints all.")
@click.option("--since", metavar="DURATION", help="Print only lines newer than DURATION, e.g. 5m or 1h.")
@connection_options
@click.pass_obj
def command(settings, name, container, follow, tail, since):
    """Print the log of workspace NAME's tunnel (default) or Docker daemon."""
    validate_workspace_name(name)
    since_seconds = None if since is None else parse_positive_duration(since, "--since", "30s, 5m or 1h")
    tail_lines = None if tail < 0 else tail

    cluster = settings.connect()
    workspace = find_workspace(cluster, name, settings.namespace)
    if workspace.pod is None:
        raise NotFound(
            f"workspace {name!r} has no pod, so there is no log",
            hint=f"run 'kubectl devspace status {workspace_arguments(name, workspace.namespace)}' to see why",
        )

    state = container_state(workspace.pod, container)
    if not state.startswith(("running", "terminated")):
        raise NotFound(
            f"container {container!r} of workspace {name!r} has not started yet ({state}), so there is no log",
            hint=f"run 'kubectl devspace status {workspace_arguments(name, workspace.namespace)}' to see why",
        )

    pod = pod_name(name)
    output = sys.stdout.buffer

    if not follow:
        text = cluster.read_log(pod, workspace.namespace, container, tail_lines, since_seconds)
        output.write(text.encode("utf-8"))
        output.flush()
        return

    try:
        for chunk in cluster.stream_log(pod, workspace.namespace, container, tail_lines, since_seconds):
            output.write(chunk)
            output.flush()
    except KeyboardInterrupt:
        # Following ends when the user interrupts it; that is its normal end.
        return 130


