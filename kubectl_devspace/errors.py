"""Errors the plugin expects, each with the exit status it maps to.

Every failure a user can cause or fix (bad input, missing kubeconfig, an
unreachable or refusing API server, a missing node or workspace) is raised as
a ``DevspaceError``. The command-line boundary in ``cli.main`` prints its
message and hint to stderr and exits with ``exit_code``; a traceback appears
only with ``--debug``. Messages never contain Secret data: API error bodies
are reduced to their ``message`` field and cut to ``MAX_API_MESSAGE`` chars.
"""

MAX_API_MESSAGE = 600

EXIT_FAILURE = 1
EXIT_USAGE = 2


class DevspaceError(Exception):
    """A failure with a message for the user and an optional next step."""

    exit_code = EXIT_FAILURE

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidInput(DevspaceError):
    """A name, flag or value that the plugin rejects before calling the cluster."""

    exit_code = EXIT_USAGE


class ConfigError(DevspaceError):
    """The kubeconfig is missing, unreadable or lacks the requested context."""


class ApiError(DevspaceError):
    """An error status returned by the API server."""

    def __init__(self, message, hint=None, status=None, reason=None):
        super().__init__(message, hint)
        self.status = status
        self.reason = reason


class Unauthorized(ApiError):
    """HTTP 401: the credentials were rejected."""


class Forbidden(ApiError):
    """HTTP 403: RBAC or admission denied the request."""


class NotFound(ApiError):
    """HTTP 404, or a workspace, node or pod that does not exist."""


class Conflict(ApiError):
    """HTTP 409: the object exists already or changed concurrently."""


class Invalid(ApiError):
    """HTTP 422: the API server rejected the object as invalid."""


class Unreachable(DevspaceError):
    """The API server could not be reached (connection, TLS or DNS failure)."""


class Timeout(DevspaceError):
    """A request or a wait ran past its deadline."""


class WorkspaceFailed(DevspaceError):
    """The workspace cannot become ready: unschedulable, image pull, crash loop, rejected."""
