"""The ``kubectl devspace`` command line.

kubectl rejects its own flags placed before a plugin's name, so the plugin
accepts the connection flags (``--kubeconfig``, ``--context``, ``-n``,
``--request-timeout``) itself, before or after the subcommand. Subcommands
are imported only when they run, so ``kubectl devspace --help`` loads
neither the cluster code nor the kubernetes client.
"""

import importlib
import logging
import sys
import traceback
from dataclasses import dataclass
from typing import Optional

import click

from . import __version__
from .errors import EXIT_FAILURE, DevspaceError

PROG_NAME = "kubectl devspace"

# name -> (module, one-line help shown by --help without importing the module)
COMMANDS = {
    "create": ("kubectl_devspace.commands.create", "Create a workspace on a node, or update it."),
    "status": ("kubectl_devspace.commands.status", "List workspaces, or show one in detail."),
    "logs": ("kubectl_devspace.commands.logs", "Print the tunnel's or the Docker daemon's log."),
    "exec-docker": ("kubectl_devspace.commands.exec_docker", "Run a command in the Docker daemon's container."),
    "delete": ("kubectl_devspace.commands.delete", "Delete a workspace; node data is kept unless --purge."),
}


@dataclass
class Settings:
    """Connection flags, from before or after the subcommand name; the later one wins."""

    kubeconfig: Optional[str] = None
    context: Optional[str] = None
    namespace: Optional[str] = None
    request_timeout: Optional[float] = None
    debug: bool = False

    def connect(self):
        """Return a ``Cluster`` for the selected kubeconfig context."""
        from .cluster import Cluster
        from .kubeconfig import kubeconfig_paths, load_kubeconfig, resolve_connection

        kubeconfig = load_kubeconfig(kubeconfig_paths(self.kubeconfig))
        connection = resolve_connection(kubeconfig, self.context, self.namespace)
        return Cluster(connection, self.request_timeout)

    def kubectl_flags(self):
        """Return the flags that make kubectl talk to the same cluster as this plugin."""
        flags = []
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if self.context:
            flags += ["--context", self.context]
        if self.request_timeout is not None:
            flags += ["--request-timeout", f"{self.request_timeout:g}s"]
        return flags


def _store(ctx, param, value):
    settings = ctx.find_root().ensure_object(Settings)
    if value is None or (param.name == "debug" and not value):
        return

    if param.name == "request_timeout":
        value = _parse_request_timeout(value)
    if param.name == "namespace":
        _check_namespace(value)
    if param.name == "debug":
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)

    setattr(settings, param.name, value)


def _parse_request_timeout(value):
    from .durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a duration; use a number with a unit (30s, 2m, 1h) or 0 for no timeout",
            param_hint="'--request-timeout'",
        ) from None


def _check_namespace(value):
    from .errors import InvalidInput
    from .names import validate_namespace

    try:
        validate_namespace(value)
    except InvalidInput as error:
        raise click.BadParameter(error.message, param_hint="'-n' / '--namespace'") from None


def connection_options(function):
    """Add the kubectl connection flags to a command or group."""
    options = [
        click.option("--kubeconfig", metavar="FILE", help="Path to the kubeconfig file to use (one file)."),
        click.option("--context", metavar="NAME", help="The kubeconfig context to use."),
        click.option(
            "-n", "--namespace", metavar="NAMESPACE",
            help="Namespace of the workspace (create: an existing namespace to use instead of devspace-NAME).",
        ),
        click.option(
            "--request-timeout", metavar="DURATION",
            help="Time limit for each API request, e.g. 30s or 1m; 0 means no limit.",
        ),
        click.option("--debug", is_flag=True, default=None, help="Log API requests and show tracebacks."),
    ]
    for option in reversed(options):
        function = option(function)

    for param in function.__click_params__[-len(options):]:
        param.callback = _store
        param.expose_value = False
        param.is_eager = True
    return function


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, cmd_name):
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        return module.command

    def format_commands(self, ctx, formatter):
        rows = [(name, short_help) for name, (_, short_help) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  kubectl devspace create alice --node gpu-node-1\n"
        "  kubectl devspace status\n"
        "  kubectl devspace logs alice -f\n"
        "  kubectl devspace exec-docker alice -- docker ps\n"
        "  kubectl devspace delete alice\n\n"
        "Run 'kubectl devspace COMMAND --help' for a command's options."
    ),
)
@click.version_option(__version__, prog_name="kubectl devspace")
@connection_options
@click.pass_context
def cli(ctx):
    """Isolated, persistent development spaces on a shared Kubernetes cluster.

    Each workspace is one pod on a node you choose, with a Docker daemon and
    a VS Code tunnel that you reach from VS Code without any inbound port.
    """
    # Without a command the plugin prints its help and succeeds, as kubectl does.
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def main(argv=None):
    """Run the command line and exit with its status: 0 success, 1 failure, 2 invalid usage."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args

    try:
        result = cli.main(args=args, prog_name=PROG_NAME, standalone_mode=False)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except (click.Abort, KeyboardInterrupt):
        print("\nInterrupted.", file=sys.stderr)
        sys.exit(130)
    except DevspaceError as error:
        if debug:
            traceback.print_exc()
        report_error(error)
        sys.exit(error.exit_code)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`), so nothing more can be written.
        sys.stderr.close()
        sys.exit(EXIT_FAILURE)

    sys.exit(result if isinstance(result, int) else 0)


def report_error(error):
    """Print ``error`` to stderr as ``error: MESSAGE`` and its hint."""
    print(f"error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"hint: {error.hint}", file=sys.stderr)
