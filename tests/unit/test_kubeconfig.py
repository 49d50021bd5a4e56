"""Unit tests for kubeconfig loading and merging with kubectl's rules (kubectl_devspace.kubeconfig)."""

import base64
import os

import pytest
import yaml

from kubectl_devspace.errors import ConfigError
from kubectl_devspace.kubeconfig import kubeconfig_paths, load_kubeconfig, resolve_connection


def write_kubeconfig(path, current_context=None, clusters=(), contexts=(), users=()):
    """Write a kubeconfig file and return its path. Clusters, contexts and users are (name, body) pairs."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": body} for name, body in clusters],
        "contexts": [{"name": name, "context": body} for name, body in contexts],
        "users": [{"name": name, "user": body} for name, body in users],
    }
    if current_context is not None:
        document["current-context"] = current_context
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture
def first_file(tmp_path):
    return write_kubeconfig(
        tmp_path / "first" / "config",
        current_context="first-context",
        clusters=[("shared", {"server": "https://first.example:6443"})],
        contexts=[
            ("first-context", {"cluster": "shared", "user": "shared-user", "namespace": "team-a"}),
            ("shared-context", {"cluster": "shared", "user": "shared-user", "namespace": "from-first"}),
        ],
        users=[("shared-user", {"token": "first-token"})],
    )


@pytest.fixture
def second_file(tmp_path):
    return write_kubeconfig(
        tmp_path / "second" / "config",
        current_context="second-context",
        clusters=[
            ("shared", {"server": "https://second.example:6443"}),
            ("second-only", {"server": "https://second-only.example:6443"}),
        ],
        contexts=[
            ("second-context", {"cluster": "second-only", "user": "second-user"}),
            ("shared-context", {"cluster": "second-only", "user": "second-user", "namespace": "from-second"}),
        ],
        users=[("shared-user", {"token": "second-token"}), ("second-user", {"token": "second-only-token"})],
    )


def environ_with(*paths):
    return {"KUBECONFIG": os.pathsep.join(paths)}


# Choosing the files


def test_explicit_file_missing(tmp_path):
    missing = str(tmp_path / "absent")

    with pytest.raises(ConfigError) as excinfo:
        kubeconfig_paths(explicit=missing, environ={})

    assert missing in excinfo.value.message
    assert "--kubeconfig" in excinfo.value.hint


def test_explicit_file_beats_env(first_file, second_file):
    paths = kubeconfig_paths(explicit=first_file, environ=environ_with(second_file))

    assert paths == [first_file]


def test_explicit_file_missing_despite_env(tmp_path, first_file):
    # kubectl does not fall back to KUBECONFIG when --kubeconfig names a missing file.
    with pytest.raises(ConfigError):
        kubeconfig_paths(explicit=str(tmp_path / "absent"), environ=environ_with(first_file))


def test_env_list_order_kept(first_file, second_file):
    assert kubeconfig_paths(environ=environ_with(second_file, first_file)) == [second_file, first_file]


def test_env_missing_files_skipped(tmp_path, first_file, second_file):
    missing = str(tmp_path / "absent")

    paths = kubeconfig_paths(environ=environ_with(missing, first_file, missing, second_file))

    assert paths == [first_file, second_file]


def test_env_empty_entries_skipped(first_file):
    environ = {"KUBECONFIG": os.pathsep + first_file + os.pathsep}

    assert kubeconfig_paths(environ=environ) == [first_file]


def test_env_duplicates_removed(first_file):
    assert kubeconfig_paths(environ=environ_with(first_file, first_file)) == [first_file]


def test_env_all_missing(tmp_path):
    environ = environ_with(str(tmp_path / "one"), str(tmp_path / "two"))

    with pytest.raises(ConfigError) as excinfo:
        kubeconfig_paths(environ=environ)

    assert str(tmp_path / "one") in excinfo.value.message
    assert excinfo.value.hint


def test_env_directory_not_file(tmp_path):
    with pytest.raises(ConfigError):
        kubeconfig_paths(environ=environ_with(str(tmp_path)))


def test_home_config_used(tmp_path, monkeypatch):
    home_config = write_kubeconfig(tmp_path / ".kube" / "config", current_context="c")
    monkeypatch.setenv("HOME", str(tmp_path))

    assert kubeconfig_paths(environ={}) == [home_config]


def test_home_config_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))

    with pytest.raises(ConfigError) as excinfo:
        kubeconfig_paths(environ={})

    assert str(tmp_path / ".kube" / "config") in excinfo.value.message


# Merging


def test_first_current_context_wins(first_file, second_file):
    assert load_kubeconfig([first_file, second_file]).current_context == "first-context"
    assert load_kubeconfig([second_file, first_file]).current_context == "second-context"


def test_current_context_from_later_file(tmp_path, second_file):
    # A file without current-context does not block the next file's.
    no_context = write_kubeconfig(tmp_path / "none" / "config")

    assert load_kubeconfig([no_context, second_file]).current_context == "second-context"


def test_first_cluster_of_name_wins(first_file, second_file):
    merged = load_kubeconfig([first_file, second_file])

    assert merged.clusters["shared"]["server"] == "https://first.example:6443"
    assert merged.clusters["second-only"]["server"] == "https://second-only.example:6443"


def test_first_user_of_name_wins(first_file, second_file):
    merged = load_kubeconfig([first_file, second_file])

    assert merged.users["shared-user"]["token"] == "first-token"
    assert merged.users["second-user"]["token"] == "second-only-token"


def test_first_context_of_name_wins(first_file, second_file):
    merged = load_kubeconfig([first_file, second_file])

    assert merged.contexts["shared-context"]["namespace"] == "from-first"
    assert set(merged.contexts) == {"first-context", "shared-context", "second-context"}


def test_merged_names_resolve_across_files(first_file, second_file):
    # A context from the second file uses the first file's cluster of the same name.
    merged = load_kubeconfig([second_file, first_file])

    connection = resolve_connection(merged, context="first-context")

    assert connection.server == "https://second.example:6443"
    assert connection.user["token"] == "second-token"


def test_empty_file_allowed(tmp_path, first_file):
    empty = tmp_path / "empty"
    empty.write_text("")

    merged = load_kubeconfig([str(empty), first_file])

    assert merged.current_context == "first-context"


def test_invalid_yaml_rejected(tmp_path):
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")

    with pytest.raises(ConfigError) as excinfo:
        load_kubeconfig([str(broken)])

    assert str(broken) in excinfo.value.message


def test_non_mapping_rejected(tmp_path):
    listing = tmp_path / "list"
    listing.write_text("- a\n- b\n")

    with pytest.raises(ConfigError):
        load_kubeconfig([str(listing)])


def test_entry_without_name_rejected(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({"clusters": [{"cluster": {"server": "https://x"}}]}))

    with pytest.raises(ConfigError) as excinfo:
        load_kubeconfig([str(path)])

    assert "clusters" in excinfo.value.message


# Relative paths


@pytest.fixture
def relative_file(tmp_path):
    directory = tmp_path / "configs"
    (directory / "pki").mkdir(parents=True)
    (directory / "pki" / "ca.crt").write_bytes(b"CA PEM")
    (directory / "pki" / "client.crt").write_bytes(b"CLIENT PEM")
    return write_kubeconfig(
        directory / "config",
        current_context="c",
        clusters=[("k", {"server": "https://k.example", "certificate-authority": "pki/ca.crt"})],
        contexts=[("c", {"cluster": "k", "user": "u"})],
        users=[(
            "u",
            {
                "client-certificate": "pki/client.crt",
                "client-key": "pki/client.key",
                "tokenFile": "token",
                "exec": {"command": "./bin/credential", "apiVersion": "client.authentication.k8s.io/v1"},
            },
        )],
    )


def test_relative_ca_resolved(tmp_path, relative_file):
    cluster = load_kubeconfig([relative_file]).clusters["k"]

    assert cluster["certificate-authority"] == str(tmp_path / "configs" / "pki" / "ca.crt")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param("client-certificate", "pki/client.crt", id="client-certificate"),
        pytest.param("client-key", "pki/client.key", id="client-key"),
        pytest.param("tokenFile", "token", id="token-file"),
    ],
)
def test_relative_user_paths_resolved(tmp_path, relative_file, field, expected):
    user = load_kubeconfig([relative_file]).users["u"]

    assert user[field] == str(tmp_path / "configs" / expected)


def test_relative_exec_command_resolved(tmp_path, relative_file):
    user = load_kubeconfig([relative_file]).users["u"]

    assert os.path.normpath(user["exec"]["command"]) == str(tmp_path / "configs" / "bin" / "credential")


def test_bare_exec_command_kept(tmp_path):
    path = write_kubeconfig(
        tmp_path / "config",
        users=[("u", {"exec": {"command": "gke-gcloud-auth-plugin"}})],
    )

    assert load_kubeconfig([path]).users["u"]["exec"]["command"] == "gke-gcloud-auth-plugin"


def test_absolute_paths_kept(tmp_path):
    path = write_kubeconfig(
        tmp_path / "sub" / "config",
        clusters=[("k", {"server": "https://k", "certificate-authority": "/etc/ca.crt"})],
    )

    assert load_kubeconfig([path]).clusters["k"]["certificate-authority"] == "/etc/ca.crt"


def test_relative_ca_read_elsewhere(tmp_path, relative_file, monkeypatch):
    # The file is found relative to the kubeconfig, not the working directory.
    monkeypatch.chdir(tmp_path)

    connection = resolve_connection(load_kubeconfig([relative_file]))

    assert connection.ca_data == b"CA PEM"


def test_paths_relative_to_own_file(tmp_path, relative_file):
    # Two files with the same relative path resolve against their own directories.
    other = write_kubeconfig(
        tmp_path / "other" / "config",
        clusters=[("k2", {"server": "https://k2", "certificate-authority": "pki/ca.crt"})],
    )

    merged = load_kubeconfig([relative_file, other])

    assert merged.clusters["k"]["certificate-authority"] == str(tmp_path / "configs" / "pki" / "ca.crt")
    assert merged.clusters["k2"]["certificate-authority"] == str(tmp_path / "other" / "pki" / "ca.crt")


def test_inline_ca_data(tmp_path):
    path = write_kubeconfig(
        tmp_path / "config",
        current_context="c",
        clusters=[("k", {
            "server": "https://k",
            "certificate-authority-data": base64.b64encode(b"INLINE PEM").decode(),
            "certificate-authority": "ignored.crt",
        })],
        contexts=[("c", {"cluster": "k"})],
    )

    assert resolve_connection(load_kubeconfig([path])).ca_data == b"INLINE PEM"


def test_invalid_ca_data(tmp_path):
    path = write_kubeconfig(
        tmp_path / "config",
        current_context="c",
        clusters=[("k", {"server": "https://k", "certificate-authority-data": "not base64!"})],
        contexts=[("c", {"cluster": "k"})],
    )
    connection = resolve_connection(load_kubeconfig([path]))

    with pytest.raises(ConfigError):
        connection.ca_data


def test_missing_ca_file(tmp_path):
    path = write_kubeconfig(
        tmp_path / "config",
        current_context="c",
        clusters=[("k", {"server": "https://k", "certificate-authority": "absent.crt"})],
        contexts=[("c", {"cluster": "k"})],
    )
    connection = resolve_connection(load_kubeconfig([path]))

    with pytest.raises(ConfigError) as excinfo:
        connection.ca_data

    assert str(tmp_path / "absent.crt") in excinfo.value.message


# Resolving a context


def test_unknown_context_lists_available(first_file, second_file):
    merged = load_kubeconfig([first_file, second_file])

    with pytest.raises(ConfigError) as excinfo:
        resolve_connection(merged, context="missing")

    message = excinfo.value.message
    assert "'missing'" in message
    assert "first-context" in message
    assert "second-context" in message
    assert "shared-context" in message
    assert excinfo.value.hint


def test_no_current_context(tmp_path):
    path = write_kubeconfig(tmp_path / "config", contexts=[("c", {"cluster": "k"})])

    with pytest.raises(ConfigError) as excinfo:
        resolve_connection(load_kubeconfig([path]))

    assert "--context" in excinfo.value.hint


def test_context_without_cluster(tmp_path):
    path = write_kubeconfig(tmp_path / "config", current_context="c", contexts=[("c", {"cluster": "absent"})])

    with pytest.raises(ConfigError) as excinfo:
        resolve_connection(load_kubeconfig([path]))

    assert "'absent'" in excinfo.value.message


def test_context_override(first_file, second_file):
    connection = resolve_connection(load_kubeconfig([first_file, second_file]), context="second-context")

    assert connection.context == "second-context"
    assert connection.server == "https://second-only.example:6443"


def test_namespace_from_context(first_file):
    assert resolve_connection(load_kubeconfig([first_file])).namespace == "team-a"


def test_namespace_override(first_file):
    connection = resolve_connection(load_kubeconfig([first_file]), namespace="other")

    assert connection.namespace == "other"


def test_namespace_default(second_file):
    assert resolve_connection(load_kubeconfig([second_file])).namespace == "default"


def test_server_trailing_slash_removed(tmp_path):
    path = write_kubeconfig(
        tmp_path / "config",
        current_context="c",
        clusters=[("k", {"server": "https://k.example:6443/"})],
        contexts=[("c", {"cluster": "k"})],
    )

    assert resolve_connection(load_kubeconfig([path])).server == "https://k.example:6443"
