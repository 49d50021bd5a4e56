"""Output: data and tables to stdout, progress and diagnostics to stderr."""

import json
import sys

OUTPUT_FORMATS = ("json", "yaml")


class Printer:
    """Writes results to stdout and progress to stderr; ``quiet`` silences progress."""

    def __init__(self, stdout=None, stderr=None, quiet=False):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.quiet = quiet

    def progress(self, message):
        """Write a progress line to stderr."""
        if not self.quiet:
            print(message, file=self.stderr, flush=True)

    def warning(self, message):
        """Write a warning to stderr, even when quiet."""
        print(f"warning: {message}", file=self.stderr, flush=True)

    def line(self, text=""):
        """Write one line of human output to stdout."""
        print(text, file=self.stdout, flush=True)

    def table(self, headers, rows):
        """Write rows under headers in aligned columns, like kubectl's tables."""
        widths = [len(header) for header in headers]
        for row in rows:
            widths = [max(width, len(str(cell))) for width, cell in zip(widths, row)]

        for cells in [headers, *rows]:
            padded = [str(cell).ljust(width) for cell, width in zip(cells, widths)]
            self.line("   ".join(padded).rstrip())

    def document(self, data, output_format):
        """Write ``data`` as JSON or YAML for scripts."""
        self.stdout.write(render(data, output_format))
        self.stdout.flush()

    def documents(self, objects, output_format):
        """Write Kubernetes objects: a v1 List in JSON, a multi-document stream in YAML."""
        if output_format == "json":
            self.document({"apiVersion": "v1", "kind": "List", "items": objects}, "json")
            return
        import yaml

        self.stdout.write(yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False))
        self.stdout.flush()


def render(data, output_format):
    """Return ``data`` as JSON or YAML text ending in a newline."""
    if output_format == "json":
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def format_age(seconds):
    """Format an age like kubectl does: 45s, 12m, 5h, 3d."""
    if seconds is None:
        return "<unknown>"

    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
