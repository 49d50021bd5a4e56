"""Unit tests for the API client (kubectl_devspace.cluster).

The error mapping tests run a real HTTP server on 127.0.0.1 that responds
with Kubernetes Status objects, and connect to it through a kubeconfig file.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from kubectl_devspace import errors
from kubectl_devspace.cluster import Cluster, api_group, resource_path
from kubectl_devspace.durations import parse_duration
from kubectl_devspace.kubeconfig import load_kubeconfig, resolve_connection

# Secret data that the server puts into every error body. It must never
# reach an error message.
SECRET_DATA = "c2VjcmV0"

# How long the slow endpoint sleeps, and the request timeout that must cut it short.
SLOW_RESPONSE_SECONDS = 3.0
SHORT_REQUEST_TIMEOUT = 0.5


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("30s", 30.0, id="seconds"),
        pytest.param("5m", 300.0, id="minutes"),
        pytest.param("1h", 3600.0, id="hours"),
        pytest.param("1h30m", 5400.0, id="hours-minutes"),
        pytest.param("1m30s", 90.0, id="minutes-seconds"),
        pytest.param("2", 2.0, id="bare-number"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1.5s", 1.5, id="fraction"),
        pytest.param(" 30s ", 30.0, id="surrounding-space"),
    ],
)
def test_parse_duration_valid(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("5x", id="unknown-unit"),
        pytest.param("m", id="unit-only"),
        pytest.param("", id="empty"),
        pytest.param("abc", id="letters"),
        pytest.param("5m3", id="trailing-number"),
        pytest.param("-5s", id="negative"),
        pytest.param("1..5s", id="two-dots"),
    ],
)
def test_parse_duration_invalid(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        pytest.param(("Pod", "team", "alice-0"), "/api/v1/namespaces/team/pods/alice-0", id="core-object"),
        pytest.param(("Pod", "team"), "/api/v1/namespaces/team/pods", id="core-collection"),
        pytest.param(("Pod",), "/api/v1/pods", id="core-all-namespaces"),
        pytest.param(
            ("StatefulSet", "team", "alice"), "/apis/apps/v1/namespaces/team/statefulsets/alice", id="apps-object"
        ),
        pytest.param(
            ("NetworkPolicy", "team"),
            "/apis/networking.k8s.io/v1/namespaces/team/networkpolicies",
            id="networking-collection",
        ),
        pytest.param(("Namespace", None, "team"), "/api/v1/namespaces/team", id="cluster-scoped-namespace"),
        pytest.param(("Node", None, "node-1"), "/api/v1/nodes/node-1", id="cluster-scoped-node"),
        pytest.param(("Node", "team", "node-1"), "/api/v1/nodes/node-1", id="cluster-scoped-ignores-namespace"),
        pytest.param(
            ("Pod", "team", "alice-0", "log"), "/api/v1/namespaces/team/pods/alice-0/log", id="subresource"
        ),
        pytest.param(
            ("SelfSubjectAccessReview",),
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            id="access-review",
        ),
    ],
)
def test_resource_path(arguments, path):
    assert resource_path(*arguments) == path


def test_resource_path_quotes_name():
    assert resource_path("Pod", "team", "a/b") == "/api/v1/namespaces/team/pods/a%2Fb"


@pytest.mark.parametrize(
    ("kind", "group"),
    [
        pytest.param("Pod", "", id="core"),
        pytest.param("StatefulSet", "apps", id="apps"),
        pytest.param("NetworkPolicy", "networking.k8s.io", id="networking"),
    ],
)
def test_api_group(kind, group):
    assert api_group(kind) == group


# A local API server


def status_body(code, reason, message):
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"name": "alice-docker-tls", "kind": "secrets"},
        "code": code,
        "data": {"key": SECRET_DATA},
    }


# path suffix -> (HTTP status, Status reason, Status message)
ERROR_RESPONSES = {
    "e401": (401, "Unauthorized", "Unauthorized"),
    "e403": (403, "Forbidden", 'secrets "e403" is forbidden: User "bob" cannot get resource "secrets"'),
    "e404": (404, "NotFound", 'secrets "e404" not found'),
    "e409": (409, "AlreadyExists", 'secrets "e409" already exists'),
    "e422": (422, "Invalid", 'Secret "e422" is invalid: data[key]: Invalid value'),
    "e500": (500, "InternalError", "Internal error occurred: etcdserver: request timed out"),
}


class FakeApiHandler(BaseHTTPRequestHandler):
    """Respond like an API server: an error Status chosen by the object name, a slow reply, or a Secret."""

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1].split("?", 1)[0]
        self.server.requests.append({"path": self.path, "headers": dict(self.headers)})

        if name in ERROR_RESPONSES:
            code, reason, message = ERROR_RESPONSES[name]
            self.send_json(code, status_body(code, reason, message))
        elif name == "long-message":
            self.send_json(500, status_body(500, "InternalError", "x" * 5000 + SECRET_DATA))
        elif name == "not-json":
            self.send_raw(502, b"<html>bad gateway " + SECRET_DATA.encode() + b"</html>", "text/html")
        elif name == "slow":
            time.sleep(SLOW_RESPONSE_SECONDS)
            self.send_json(200, {"kind": "Secret"})
        else:
            self.send_json(200, {"kind": "Secret", "metadata": {"name": name}})

    def send_json(self, code, body):
        self.send_raw(code, json.dumps(body).encode(), "application/json")

    def send_raw(self, code, payload, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first, as the timeout test intends.
            pass

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def api_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiHandler)
    server.daemon_threads = True
    server.block_on_close = False
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def write_kubeconfig(tmp_path, server_url):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "local",
        "clusters": [{"name": "local", "cluster": {"server": server_url}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "tester", "namespace": "team"}}],
        "users": [{"name": "tester", "user": {"token": "test-token"}}],
    }))
    return str(path)


def make_cluster(tmp_path, server_url, request_timeout=5.0):
    connection = resolve_connection(load_kubeconfig([write_kubeconfig(tmp_path, server_url)]))
    return Cluster(connection, request_timeout)


@pytest.fixture
def cluster(tmp_path, api_server):
    host, port = api_server.server_address
    return make_cluster(tmp_path, f"http://{host}:{port}")


def closed_port():
    """Return a loopback port with no listener: bound once, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_get_returns_object(cluster):
    assert cluster.get("Secret", "plain", "team") == {"kind": "Secret", "metadata": {"name": "plain"}}


def test_bearer_token_sent(cluster, api_server):
    cluster.get("Secret", "token-check", "team")

    request = next(item for item in api_server.requests if item["path"].endswith("/token-check"))
    assert request["headers"]["Authorization"] == "Bearer test-token"
    assert request["path"] == "/api/v1/namespaces/team/secrets/token-check"


@pytest.mark.parametrize(
    ("name", "error_class"),
    [
        pytest.param("e401", errors.Unauthorized, id="401-unauthorized"),
        pytest.param("e403", errors.Forbidden, id="403-forbidden"),
        pytest.param("e404", errors.NotFound, id="404-not-found"),
        pytest.param("e409", errors.Conflict, id="409-conflict"),
        pytest.param("e422", errors.Invalid, id="422-invalid"),
        pytest.param("e500", errors.ApiError, id="500-api-error"),
    ],
)
def test_error_status_mapped(cluster, name, error_class):
    code, reason, message = ERROR_RESPONSES[name]

    with pytest.raises(errors.ApiError) as excinfo:
        cluster.get("Secret", name, "team")

    error = excinfo.value
    assert type(error) is error_class
    assert error.status == code
    assert error.reason == reason
    assert message in error.message


@pytest.mark.parametrize("name", sorted(ERROR_RESPONSES))
def test_error_hides_other_fields(cluster, name):
    with pytest.raises(errors.ApiError) as excinfo:
        cluster.get("Secret", name, "team")

    error = excinfo.value
    assert SECRET_DATA not in error.message
    assert SECRET_DATA not in (error.hint or "")
    assert SECRET_DATA not in str(error)
    assert "alice-docker-tls" not in error.message


def test_error_exit_status(cluster):
    with pytest.raises(errors.Forbidden) as excinfo:
        cluster.get("Secret", "e403", "team")

    assert excinfo.value.exit_code == errors.EXIT_FAILURE
    assert excinfo.value.hint


def test_long_message_truncated(cluster):
    with pytest.raises(errors.ApiError) as excinfo:
        cluster.get("Secret", "long-message", "team")

    assert "x" * errors.MAX_API_MESSAGE in excinfo.value.message
    assert "x" * (errors.MAX_API_MESSAGE + 1) not in excinfo.value.message
    assert SECRET_DATA not in excinfo.value.message


def test_non_json_error_body(cluster):
    with pytest.raises(errors.ApiError) as excinfo:
        cluster.get("Secret", "not-json", "team")

    assert excinfo.value.status == 502
    assert "HTTP 502" in excinfo.value.message
    assert SECRET_DATA not in excinfo.value.message
    assert "<html>" not in excinfo.value.message


def test_connection_refused_unreachable(tmp_path):
    server_url = f"http://127.0.0.1:{closed_port()}"
    cluster = make_cluster(tmp_path, server_url, request_timeout=5.0)

    with pytest.raises(errors.DevspaceError) as excinfo:
        cluster.get("Secret", "any", "team")

    assert type(excinfo.value) is errors.Unreachable
    assert server_url in excinfo.value.message
    assert "timed out" not in excinfo.value.message


def test_slow_server_times_out(tmp_path, api_server):
    host, port = api_server.server_address
    cluster = make_cluster(tmp_path, f"http://{host}:{port}", request_timeout=SHORT_REQUEST_TIMEOUT)
    started = time.monotonic()

    with pytest.raises(errors.DevspaceError) as excinfo:
        cluster.get("Secret", "slow", "team")

    elapsed = time.monotonic() - started
    assert type(excinfo.value) is errors.Timeout
    assert elapsed < SLOW_RESPONSE_SECONDS
    assert "--request-timeout" in excinfo.value.hint
