"""Access to the Kubernetes API.

Requests go through urllib3, the HTTP library the official ``kubernetes``
client is built on. Importing ``kubernetes.client`` loads hundreds of
generated model modules (about 0.25 s on CPython 3.11), more than a whole
``status`` call should take. So this module sends plain JSON requests, and
loads the official client only for credentials that need it: ``exec``
credential plugins and legacy ``auth-provider`` entries.

Every HTTP error status and connection failure becomes one of the errors in
``errors``; response bodies are reduced to the Status ``message`` field, so
Secret data never reaches an error message or a log.
"""

import json
import logging
import os
import shutil
import ssl
import tempfile
import time
from urllib.parse import quote, urlencode

import urllib3

from . import __version__
from .errors import (
    MAX_API_MESSAGE,
    ApiError,
    Conflict,
    ConfigError,
    Forbidden,
    Invalid,
    NotFound,
    Timeout,
    Unauthorized,
    Unreachable,
)
from .kubeconfig import read_credential_data

FIELD_MANAGER = "kubectl-devspace"

log = logging.getLogger(__name__)

# kind -> (API path prefix, resource plural, namespaced)
RESOURCES = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "Pod": ("/api/v1", "pods", True),
    "Secret": ("/api/v1", "secrets", True),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "Event": ("/api/v1", "events", True),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "Job": ("/apis/batch/v1", "jobs", True),
    "SelfSubjectAccessReview": ("/apis/authorization.k8s.io/v1", "selfsubjectaccessreviews", False),
}


def api_group(kind):
    """Return the API group of ``kind`` ("" for the core group)."""
    prefix = RESOURCES[kind][0]
    return "" if prefix == "/api/v1" else prefix.split("/")[2]


def resource_path(kind, namespace=None, name=None, subresource=None):
    """Build the REST path of a collection or object of ``kind``."""
    prefix, plural, namespaced = RESOURCES[kind]
    path = prefix

    if namespaced and namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{plural}"

    if name:
        path += f"/{quote(name, safe='')}"
    if subresource:
        path += f"/{subresource}"
    return path


class Cluster:
    """A client for one cluster, as the user of one kubeconfig context."""

    def __init__(self, connection, request_timeout=None):
        self.connection = connection
        self.request_count = 0
        self._timeout = self._make_timeout(request_timeout)
        self._pool = self._make_pool()
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"kubectl-devspace/{__version__}",
        }
        self._headers.update(self._auth_headers())

    # Requests

    def get(self, kind, name, namespace=None):
        """Return the object ``kind``/``name``; raise ``NotFound`` if it does not exist."""
        return self._request("GET", resource_path(kind, namespace, name))

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        """Return the items of ``kind`` in ``namespace`` (all namespaces when None)."""
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector

        body = self._request("GET", resource_path(kind, namespace), query=query)
        return body.get("items", [])

    def apply(self, body):
        """Server-side apply ``body`` as field manager ``kubectl-devspace``."""
        metadata = body["metadata"]
        path = resource_path(body["kind"], metadata.get("namespace"), metadata["name"])
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        return self._request(
            "PATCH", path, query=query, body=body, content_type="application/apply-patch+yaml"
        )

    def patch(self, kind, name, namespace, patch):
        """Apply a JSON merge patch to ``kind``/``name``."""
        path = resource_path(kind, namespace, name)
        return self._request(
            "PATCH", path, query={"fieldManager": FIELD_MANAGER}, body=patch,
            content_type="application/merge-patch+json",
        )

    def create(self, body):
        """Create ``body``; raise ``Conflict`` if it exists already."""
        metadata = body["metadata"]
        path = resource_path(body["kind"], metadata.get("namespace"))
        return self._request("POST", path, query={"fieldManager": FIELD_MANAGER}, body=body)

    def delete(self, kind, name, namespace=None, propagation="Background"):
        """Delete ``kind``/``name``; raise ``NotFound`` if it does not exist."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        return self._request("DELETE", resource_path(kind, namespace, name), body=body)

    def can_i(self, verb, kind, namespace=None, subresource=None):
        """Ask the API server whether the current user may ``verb`` ``kind``."""
        attributes = {"verb": verb, "group": api_group(kind), "resource": RESOURCES[kind][1]}
        if namespace:
            attributes["namespace"] = namespace
        if subresource:
            attributes["subresource"] = subresource

        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        result = self._request("POST", resource_path("SelfSubjectAccessReview"), body=review)
        return bool(result.get("status", {}).get("allowed"))

    def read_log(self, pod, namespace, container, tail_lines=None, since_seconds=None):
        """Return a container's log as text."""
        query = self._log_query(container, tail_lines, since_seconds, follow=False)
        path = resource_path("Pod", namespace, pod, "log")
        return self._request("GET", path, query=query, raw=True).decode("utf-8", "replace")

    def stream_log(self, pod, namespace, container, tail_lines=None, since_seconds=None):
        """Yield a container's log in chunks of bytes as the kubelet sends them, until it ends."""
        query = self._log_query(container, tail_lines, since_seconds, follow=True)
        path = resource_path("Pod", namespace, pod, "log")
        response = self._send("GET", path, query=query, stream=True)

        try:
            self._raise_for_status(response, "GET", path)
            yield from response.stream(64 * 1024, decode_content=True)
        finally:
            response.release_conn()

    # Plumbing

    @staticmethod
    def _log_query(container, tail_lines, since_seconds, follow):
        query = {"container": container}
        if follow:
            query["follow"] = "true"
        if tail_lines is not None:
            query["tailLines"] = str(tail_lines)
        if since_seconds is not None:
            query["sinceSeconds"] = str(max(1, int(since_seconds)))
        return query

    def _request(self, method, path, query=None, body=None, content_type="application/json", raw=False):
        response = self._send(method, path, query=query, body=body, content_type=content_type)
        self._raise_for_status(response, method, path)

        if raw:
            return response.data
        if not response.data:
            return {}
        try:
            return json.loads(response.data)
        except ValueError:
            raise ApiError(
                f"{method} {path} returned a response that is not JSON; is {self.connection.server} a Kubernetes API server?",
                status=response.status,
            ) from None

    def _send(self, method, path, query=None, body=None, content_type="application/json", stream=False):
        url = self.connection.server + path
        if query:
            url += "?" + urlencode(query)

        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type

        timeout = urllib3.Timeout(connect=self._timeout.connect_timeout, read=None) if stream else self._timeout
        started = time.monotonic()
        self.request_count += 1

        try:
            response = self._pool.request(
                method,
                url,
                body=payload,
                headers=headers,
                timeout=timeout,
                retries=False,
                preload_content=not stream,
                redirect=False,
            )
        except urllib3.exceptions.NewConnectionError as error:
            # urllib3 derives connection-refused and DNS errors from its
            # connect-timeout class, so they are matched first.
            raise self._unreachable(error) from error
        except urllib3.exceptions.SSLError as error:
            raise Unreachable(
                f"TLS connection to the API server {self.connection.server} failed "
                f"(context {self.connection.context!r}): {_describe(error)}",
                hint="check the certificate-authority and tls-server-name of the cluster entry in the kubeconfig",
            ) from error
        except urllib3.exceptions.TimeoutError as error:
            raise Timeout(
                f"request to the API server timed out: {method} {self.connection.server}{path}",
                hint="check the cluster is reachable, or raise --request-timeout",
            ) from error
        except urllib3.exceptions.HTTPError as error:
            raise self._unreachable(error) from error

        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %s (%.0f ms)", method, url, response.status, elapsed_ms)
        return response

    def _unreachable(self, error):
        return Unreachable(
            f"cannot reach the API server {self.connection.server} "
            f"(context {self.connection.context!r}): {_describe(error)}",
            hint="check that the cluster is running and that --context or KUBECONFIG select it",
        )

    def _raise_for_status(self, response, method, path):
        status = response.status
        if status < 400:
            return

        message, reason = _status_message(response)
        context = self.connection.context

        if status == 401:
            raise Unauthorized(
                f"the API server rejected the credentials of context {context!r}: {message}",
                hint="log in again or check the user entry of the kubeconfig",
                status=status,
                reason=reason,
            )
        if status == 403:
            raise Forbidden(message, hint=_forbidden_hint(), status=status, reason=reason)
        if status == 404:
            raise NotFound(message, status=status, reason=reason)
        if status == 409:
            raise Conflict(message, status=status, reason=reason)
        if status == 422:
            raise Invalid(message, status=status, reason=reason)

        raise ApiError(
            f"{method} {path} failed with HTTP {status}: {message}", status=status, reason=reason
        )

    @staticmethod
    def _make_timeout(request_timeout):
        if request_timeout is None:
            return urllib3.Timeout(connect=30, read=120)
        if request_timeout == 0:
            return urllib3.Timeout(connect=None, read=None)
        return urllib3.Timeout(total=request_timeout)

    def _make_pool(self):
        connection = self.connection
        pool_options = {"num_pools": 2, "maxsize": 4}

        if connection.server.startswith("https://"):
            pool_options["ssl_context"] = self._make_ssl_context()
            if connection.insecure:
                pool_options["cert_reqs"] = "CERT_NONE"
                pool_options["assert_hostname"] = False
            if connection.tls_server_name:
                pool_options["server_hostname"] = connection.tls_server_name

        if connection.insecure:
            # kubectl warns about no certificate check only in its docs; one
            # urllib3 warning per request would bury the output.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

        if connection.proxy_url:
            if not str(connection.proxy_url).startswith(("http://", "https://")):
                raise ConfigError(
                    f"proxy-url {connection.proxy_url!r} of context {connection.context!r} is not supported: "
                    "use an http:// or https:// proxy"
                )
            return urllib3.ProxyManager(connection.proxy_url, **pool_options)
        return urllib3.PoolManager(**pool_options)

    def _make_ssl_context(self):
        connection = self.connection
        # A plain client context verifies the server and its hostname. The
        # system's CA store is loaded only when the kubeconfig names no CA,
        # because loading it took about 40 ms per call here (CPython 3.11,
        # Debian's CA bundle), a large share of a status call.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

        if connection.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            ca_data = connection.ca_data
            if not ca_data:
                context.load_default_certs()
            else:
                try:
                    context.load_verify_locations(cadata=ca_data.decode("ascii"))
                except (ssl.SSLError, UnicodeDecodeError, ValueError) as error:
                    raise ConfigError(
                        f"the certificate authority of context {connection.context!r} is not valid PEM: {error}"
                    ) from error

        cert_data = read_credential_data(connection.user, "client-certificate")
        key_data = read_credential_data(connection.user, "client-key")
        if cert_data and key_data:
            _load_client_certificate(context, cert_data, key_data, connection.context)
        return context

    def _auth_headers(self):
        user = self.connection.user

        if user.get("exec") or user.get("auth-provider"):
            return self._plugin_auth_headers()

        token = user.get("token")
        if not token and user.get("tokenFile"):
            try:
                with open(user["tokenFile"], encoding="utf-8") as stream:
                    token = stream.read().strip()
            except OSError as error:
                raise ConfigError(f"cannot read tokenFile {user['tokenFile']}: {error.strerror}") from error
        if token:
            token = str(token).strip()
            if any(character.isspace() for character in token):
                raise ConfigError(f"the token of context {self.connection.context!r} contains white space")
            return {"Authorization": f"Bearer {token}"}

        if user.get("username"):
            return urllib3.make_headers(basic_auth=f"{user['username']}:{user.get('password', '')}")
        return {}

    def _plugin_auth_headers(self):
        # The official client runs exec credential plugins and legacy auth
        # providers; the result is a bearer token or a client certificate.
        from kubernetes import client as k8s_client
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import KubeConfigLoader

        context = self.connection.context
        exec_config = self.connection.user.get("exec") or {}
        command = exec_config.get("command")
        if command and not shutil.which(command):
            raise ConfigError(
                f"the exec credential plugin {command!r} of context {context!r} was not found on PATH",
                hint=exec_config.get("installHint") or "install the plugin or add its folder to PATH",
            )

        configuration = k8s_client.Configuration()
        # The client logs a failed plugin run and goes on without credentials;
        # its log records are collected here and reported as one error.
        failures = _CollectingHandler()
        client_log = logging.getLogger()
        client_log.addHandler(failures)
        try:
            loader = KubeConfigLoader(config_dict=self.connection.kubeconfig.to_dict(), active_context=context)
            loader.load_and_set(configuration)
        except ConfigException as error:
            raise ConfigError(f"the credential plugin of context {context!r} failed: {error}") from error
        finally:
            client_log.removeHandler(failures)

        if not configuration.api_key.get("authorization") and not configuration.cert_file:
            detail = "; ".join(failures.messages) or "it returned no token and no client certificate"
            raise ConfigError(f"the credential plugin of context {context!r} failed: {detail[:MAX_API_MESSAGE]}")

        if configuration.cert_file and configuration.key_file:
            with open(configuration.cert_file, "rb") as cert, open(configuration.key_file, "rb") as key:
                _load_client_certificate(
                    self._pool.connection_pool_kw["ssl_context"], cert.read(), key.read(), self.connection.context
                )

        authorization = configuration.api_key.get("authorization")
        return {"Authorization": authorization} if authorization else {}


class _CollectingHandler(logging.Handler):
    """A log handler that keeps the messages of error records."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _load_client_certificate(context, cert_data, key_data, context_name):
    # ssl only loads certificate chains from files, so the PEM data goes to
    # files readable by this user alone, removed as soon as they are loaded.
    with tempfile.TemporaryDirectory(prefix="kubectl-devspace-") as directory:
        cert_path = os.path.join(directory, "client.crt")
        key_path = os.path.join(directory, "client.key")
        for path, data in ((cert_path, cert_data), (key_path, key_data)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)

        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as error:
            raise ConfigError(
                f"the client certificate or key of context {context_name!r} cannot be loaded: {error.reason or error}"
            ) from error


def _status_message(response):
    try:
        body = json.loads(response.data)
    except (ValueError, TypeError):
        return f"HTTP {response.status}", None

    if not isinstance(body, dict):
        return f"HTTP {response.status}", None

    message = str(body.get("message") or f"HTTP {response.status}")
    return message[:MAX_API_MESSAGE], body.get("reason")


def _forbidden_hint():
    return "ask a cluster administrator for a Role that allows it, or pass -n with a namespace you may use"


def _describe(error):
    reason = getattr(error, "reason", None)
    return str(reason or error)
