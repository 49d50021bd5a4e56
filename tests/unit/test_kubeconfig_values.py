"""Kubeconfig values of the wrong type or form are rejected with a ConfigError."""

import pytest
import yaml

from kubectl_devspace.cluster import Cluster
from kubectl_devspace.errors import ConfigError
from kubectl_devspace.kubeconfig import load_kubeconfig, resolve_connection


def _connection(tmp_path, cluster=None, user=None, current_context="c"):
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current_context,
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1", **(cluster or {})}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": user or {}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(document))
    return resolve_connection(load_kubeconfig([str(path)]))


def test_current_context_list_rejected(tmp_path):
    with pytest.raises(ConfigError):
        _connection(tmp_path, current_context=["c"])


def test_insecure_string_rejected(tmp_path):
    connection = _connection(tmp_path, cluster={"insecure-skip-tls-verify": "false"})

    with pytest.raises(ConfigError):
        Cluster(connection)


def test_socks_proxy_rejected(tmp_path):
    connection = _connection(tmp_path, cluster={"proxy-url": "socks5://127.0.0.1:1080"})

    with pytest.raises(ConfigError) as error:
        Cluster(connection)

    assert "socks5" in error.value.message


def test_token_with_newline_rejected(tmp_path):
    connection = _connection(tmp_path, user={"token": "abc\ndef"})

    with pytest.raises(ConfigError):
        Cluster(connection)


def test_server_without_scheme_rejected(tmp_path):
    with pytest.raises(ConfigError):
        _connection(tmp_path, cluster={"server": "foo"})
