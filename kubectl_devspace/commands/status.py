"""``kubectl devspace status``: a table of workspaces, or one workspace in detail."""

import click

from .. import describe
from ..cli import connection_options
from ..names import validate_workspace_name
from ..output import OUTPUT_FORMATS, Printer
from ..workspaces import find_workspace, list_workspaces


@click.command(
    "status",
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  kubectl devspace status\n"
        "  kubectl devspace status alice\n"
        "  kubectl devspace status -o json\n\n"
        "Without NAME the table covers all namespaces when you may list them, "
        "and otherwise the namespace of -n or of the kubeconfig context."
    ),
)
@click.argument("name", required=False)
@click.option("-o", "--output", "output_format", type=click.Choice(OUTPUT_FORMATS), help="Print json or yaml for scripts.")
@connection_options
@click.pass_obj
def command(settings, name, output_format):
    """List workspaces, or show workspace NAME in detail.

    The detail shows container states and restarts, the tunnel's login code
    while a login is pending or its URL once connected, where the data lives,
    and recent events.
    """
    printer = Printer()
    if name:
        validate_workspace_name(name)

    cluster = settings.connect()

    if name:
        workspace = find_workspace(cluster, name, settings.namespace)
        document = describe.detail(cluster, workspace)
        if output_format:
            printer.document(document, output_format)
        else:
            describe.print_detail(printer, document)
        return

    workspaces, scope = list_workspaces(cluster, settings.namespace)
    documents = [describe.summary(workspace) for workspace in workspaces]

    if output_format:
        printer.document({"items": documents}, output_format)
        return

    if not documents:
        where = f"namespace {scope}" if scope else "any namespace"
        printer.progress(f"No workspaces found in {where}.")
        return

    printer.table(describe.TABLE_HEADERS, [describe.table_row(document) for document in documents])
