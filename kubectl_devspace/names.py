"""Name rules for workspaces, namespaces and VS Code tunnels."""

import re

from .errors import InvalidInput

# The StatefulSet controller labels each pod with
# "controller-revision-hash=NAME-<10 character hash>", and label values are at
# most 63 characters, so StatefulSet names longer than 52 characters fail.
MAX_WORKSPACE_NAME = 52

# VS Code tunnel names: at most 20 characters of lowercase letters, digits and '-'.
MAX_TUNNEL_NAME = 20

DEFAULT_NAMESPACE_PREFIX = "devspace-"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_TUNNEL_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


# Longer values are cut in error messages, which must stay readable.
MAX_SHOWN = 80


def shown(value):
    """Return ``value`` quoted for an error message, cut after ``MAX_SHOWN`` characters."""
    if len(value) <= MAX_SHOWN:
        return repr(value)
    return f"{value[:MAX_SHOWN]!r}... ({len(value)} characters)"


def validate_workspace_name(name):
    """Raise ``InvalidInput`` unless ``name`` is a usable workspace name."""
    if not name:
        raise InvalidInput("invalid workspace name: the name is empty")

    if len(name) > MAX_WORKSPACE_NAME or not _DNS_LABEL.fullmatch(name):
        raise InvalidInput(
            f"invalid workspace name {shown(name)}: use at most {MAX_WORKSPACE_NAME} "
            "lowercase letters, digits and '-', starting and ending with a letter or digit",
            hint="for example: kubectl devspace create alice --node NODE",
        )


def validate_namespace(namespace):
    """Raise ``InvalidInput`` unless ``namespace`` is a valid namespace name."""
    if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
        raise InvalidInput(
            f"invalid namespace {shown(namespace)}: use at most 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )


def default_namespace(name):
    """Return the namespace ``create`` makes for workspace ``name``."""
    return DEFAULT_NAMESPACE_PREFIX + name


def default_tunnel_name(name):
    """Derive a tunnel name from the workspace name: its first 20 characters."""
    return name[:MAX_TUNNEL_NAME].rstrip("-")


def validate_tunnel_name(tunnel_name):
    """Raise ``InvalidInput`` unless VS Code accepts ``tunnel_name``."""
    if not tunnel_name or len(tunnel_name) > MAX_TUNNEL_NAME or not _TUNNEL_NAME.fullmatch(tunnel_name):
        raise InvalidInput(
            f"invalid tunnel name {shown(tunnel_name)}: VS Code accepts at most "
            f"{MAX_TUNNEL_NAME} lowercase letters, digits and '-', starting with a letter or digit",
            hint="pass --tunnel-name with a valid name",
        )


def workspace_arguments(name, namespace):
    """Return how to name the workspace in a suggested command: NAME, plus -n when not in its default namespace."""
    if namespace == default_namespace(name):
        return name
    return f"{name} -n {namespace}"


def pod_name(name):
    """Return the name of the workspace's pod: a StatefulSet's pods are NAME-<ordinal>."""
    return f"{name}-0"
