"""Kubeconfig loading with kubectl's rules.

kubectl reads ``--kubeconfig`` (one file) when given, else every file in the
``KUBECONFIG`` path list, else ``~/.kube/config``. With a path list, the first
file that sets a value wins: the first ``current-context``, and the first
cluster, context or user of each name. Files in the list that do not exist
are skipped. Relative file paths inside a kubeconfig are relative to the
directory of the file that contains them.
"""

import base64
import os
from dataclasses import dataclass, field

import yaml

from .errors import ConfigError

_PATH_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}


@dataclass
class KubeConfig:
    """A merged kubeconfig: named clusters, contexts and users."""

    paths: list
    current_context: str = ""
    clusters: dict = field(default_factory=dict)
    contexts: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def to_dict(self):
        """Return the merged kubeconfig in the file format."""
        def named(kind, entries):
            return [{"name": name, kind: value} for name, value in entries.items()]

        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": self.current_context,
            "clusters": named("cluster", self.clusters),
            "contexts": named("context", self.contexts),
            "users": named("user", self.users),
        }


@dataclass
class Connection:
    """Server, TLS settings and credentials for one cluster and one user."""

    context: str
    server: str
    namespace: str
    cluster: dict
    user: dict
    kubeconfig: KubeConfig

    @property
    def ca_data(self):
        """The cluster's CA bundle as PEM bytes, or None to use the system's."""
        return _read_data(self.cluster, "certificate-authority")

    @property
    def insecure(self):
        value = self.cluster.get("insecure-skip-tls-verify", False)
        if not isinstance(value, bool):
            raise ConfigError(
                f"insecure-skip-tls-verify of context {self.context!r} must be true or false, not {value!r}"
            )
        return value

    @property
    def tls_server_name(self):
        return self.cluster.get("tls-server-name")

    @property
    def proxy_url(self):
        return self.cluster.get("proxy-url")


def kubeconfig_paths(explicit=None, environ=None):
    """Return the kubeconfig files to merge, in precedence order."""
    environ = os.environ if environ is None else environ

    if explicit:
        if os.path.isdir(explicit):
            raise ConfigError(f"--kubeconfig {explicit!r} is a directory, not a kubeconfig file")
        if not os.path.isfile(explicit):
            raise ConfigError(
                f"kubeconfig file {explicit!r} not found",
                hint="check the path given to --kubeconfig",
            )
        return [explicit]

    env_value = environ.get("KUBECONFIG", "")
    if env_value:
        paths = [p for p in env_value.split(os.pathsep) if p]
        existing = [p for p in paths if os.path.isfile(p)]
        if not existing:
            raise ConfigError(
                f"none of the files in KUBECONFIG exist: {env_value}",
                hint="set KUBECONFIG to an existing kubeconfig file or pass --kubeconfig",
            )
        return _unique(existing)

    home_config = os.path.join(os.path.expanduser("~"), ".kube", "config")
    if not os.path.isfile(home_config):
        raise ConfigError(
            f"no kubeconfig found: KUBECONFIG is not set and {home_config} does not exist",
            hint="pass --kubeconfig FILE or set KUBECONFIG to the kubeconfig of your cluster",
        )
    return [home_config]


def load_kubeconfig(paths):
    """Read and merge ``paths`` with kubectl's first-wins rules."""
    merged = KubeConfig(paths=list(paths))

    for path in paths:
        document = _read_file(path)
        base_dir = os.path.dirname(os.path.abspath(path))

        current_context = document.get("current-context")
        if current_context and not isinstance(current_context, str):
            raise ConfigError(f"kubeconfig {path}: current-context must be a context name, not {current_context!r}")
        if not merged.current_context and current_context:
            merged.current_context = current_context

        _merge_named(merged.clusters, document, "clusters", "cluster", path, base_dir)
        _merge_named(merged.contexts, document, "contexts", "context", path, base_dir)
        _merge_named(merged.users, document, "users", "user", path, base_dir)

    return merged


def resolve_connection(kubeconfig, context=None, namespace=None):
    """Select a context and return its ``Connection``.

    ``context`` and ``namespace`` override the kubeconfig's current context
    and that context's namespace, as kubectl's ``--context`` and ``-n`` do.
    """
    context_name = context or kubeconfig.current_context
    files = ", ".join(kubeconfig.paths)

    if not context_name:
        raise ConfigError(
            f"no current context is set in {files}",
            hint="pass --context NAME or run 'kubectl config use-context NAME'",
        )

    if context_name not in kubeconfig.contexts:
        available = ", ".join(sorted(kubeconfig.contexts)) or "none"
        raise ConfigError(
            f"context {context_name!r} not found in {files} (available: {available})",
            hint="pass --context with one of the available contexts",
        )

    context_entry = kubeconfig.contexts[context_name] or {}
    cluster_name = context_entry.get("cluster", "")
    user_name = context_entry.get("user", "")

    cluster = kubeconfig.clusters.get(cluster_name)
    if not cluster or not isinstance(cluster.get("server"), str) or not cluster["server"]:
        raise ConfigError(
            f"context {context_name!r} refers to cluster {cluster_name!r}, "
            f"which is missing or has no server URL in {files}"
        )

    server = cluster["server"]
    if not server.startswith(("https://", "http://")):
        raise ConfigError(
            f"cluster {cluster_name!r} has the server {server!r}, which is not an http:// or https:// URL"
        )

    user = kubeconfig.users.get(user_name, {}) if user_name else {}

    return Connection(
        context=context_name,
        server=cluster["server"].rstrip("/"),
        namespace=namespace or context_entry.get("namespace") or "default",
        cluster=cluster,
        user=user or {},
        kubeconfig=kubeconfig,
    )


def read_credential_data(entry, key):
    """Return PEM bytes from ``KEY-data`` (base64) or the file named by ``KEY``."""
    return _read_data(entry, key)


def _read_file(path):
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream) or {}
    except OSError as error:
        raise ConfigError(f"cannot read kubeconfig {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {error}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"kubeconfig {path} is not UTF-8 text: {error.reason} at byte {error.start}") from error

    if not isinstance(document, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping of clusters, contexts and users")
    return document


def _merge_named(target, document, list_key, item_key, path, base_dir):
    entries = document.get(list_key) or []
    if not isinstance(entries, list):
        raise ConfigError(f"kubeconfig {path}: '{list_key}' must be a list")

    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"kubeconfig {path}: an entry of '{list_key}' has no name")

        name = entry["name"]
        if name in target:
            continue

        value = entry.get(item_key) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"kubeconfig {path}: the {item_key} of {name!r} must be a mapping")
        value = dict(value)
        target[name] = _absolute_paths(value, item_key, base_dir)


def _absolute_paths(value, item_key, base_dir):
    for key in _PATH_FIELDS.get(item_key, ()):
        if value.get(key):
            value[key] = os.path.join(base_dir, os.path.expanduser(value[key]))

    exec_config = value.get("exec")
    if item_key == "user" and isinstance(exec_config, dict):
        command = exec_config.get("command", "")
        if not isinstance(command, str):
            raise ConfigError(f"kubeconfig: the exec command of a user must be a string, not {command!r}")
        if os.sep in command and not os.path.isabs(command):
            exec_config = dict(exec_config, command=os.path.join(base_dir, command))
            value["exec"] = exec_config

    return value


def _read_data(entry, key):
    inline = entry.get(f"{key}-data")
    if inline:
        try:
            return base64.b64decode(inline, validate=True)
        except ValueError as error:
            raise ConfigError(f"kubeconfig field {key}-data is not valid base64") from error

    path = entry.get(key)
    if path:
        try:
            with open(path, "rb") as stream:
                return stream.read()
        except OSError as error:
            raise ConfigError(f"cannot read {key} file {path}: {error.strerror}") from error

    return None


def _unique(paths):
    seen = set()
    result = []
    for path in paths:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result
