"""Input checks that create makes before it talks to the cluster."""

import pytest

from kubectl_devspace.errors import InvalidInput
from kubectl_devspace.preflight import validate_storage_options


@pytest.mark.parametrize(
    "path",
    ["/", "/etc", "/etc/", "//etc", "/home", "/var/lib", "/var/lib/docker", "/var/lib/kubelet", "/usr/local",
     "/proc/1", "/var/lib/devspace"],
)
def test_system_directory_rejected(path):
    with pytest.raises(InvalidInput) as error:
        validate_storage_options(path, None, False, None)

    assert repr(path) in error.value.message
    assert error.value.exit_code == 2


@pytest.mark.parametrize("path", ["data", "./data", "/data/../etc"])
def test_relative_or_dotted_path_rejected(path):
    with pytest.raises(InvalidInput):
        validate_storage_options(None, path, False, None)


@pytest.mark.parametrize("path", ["/data/alice", "/var/lib/devspace/alice/data", "/srv/devspace/alice", "/tmp/alice"])
def test_dedicated_directory_accepted(path):
    validate_storage_options(path, None, False, None)


def test_same_directory_twice_rejected():
    with pytest.raises(InvalidInput):
        validate_storage_options("/data/alice", "/data/alice/", False, None)


def test_ephemeral_with_docker_dir_rejected():
    with pytest.raises(InvalidInput):
        validate_storage_options(None, "/data/docker", True, None)


def test_storage_class_with_dir_rejected():
    with pytest.raises(InvalidInput):
        validate_storage_options("/data/alice", None, False, "fast")


@pytest.mark.parametrize("path", ["/.", "/var/.", "/./etc", "/var/lib/kubelet/pods", "/var/run/x", "/var/lib/etcd"])
def test_disguised_system_directory_rejected(path):
    with pytest.raises(InvalidInput):
        validate_storage_options(path, None, False, None)


def test_other_workspace_root_rejected():
    with pytest.raises(InvalidInput) as error:
        validate_storage_options("/var/lib/devspace/bob/data", None, False, None, own_root="/var/lib/devspace/alice")

    assert "other workspaces" in error.value.message


def test_own_workspace_root_accepted():
    validate_storage_options("/var/lib/devspace/alice/src", None, False, None, own_root="/var/lib/devspace/alice")


@pytest.mark.parametrize(("data_dir", "docker_dir"), [("/srv/x", "/srv/x/docker"), ("/srv/x/data", "/srv/x")])
def test_nested_directories_rejected(data_dir, docker_dir):
    with pytest.raises(InvalidInput):
        validate_storage_options(data_dir, docker_dir, False, None)


@pytest.mark.parametrize("path", ["/var/lib/containers/storage", "/var/lib/rancher/k3s", "/opt/cni/bin", "/var/lock/x"])
def test_runtime_directory_rejected(path):
    with pytest.raises(InvalidInput):
        validate_storage_options(path, None, False, None)
