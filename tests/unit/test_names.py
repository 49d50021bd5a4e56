"""Unit tests for the workspace and tunnel name rules in kubectl_devspace.names."""

import pytest

from kubectl_devspace import names
from kubectl_devspace.errors import EXIT_USAGE, InvalidInput


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("alice", id="plain"),
        pytest.param("a", id="one-letter"),
        pytest.param("7", id="one-digit"),
        pytest.param("team-1-gpu", id="digits-and-dashes"),
        pytest.param("a" * names.MAX_WORKSPACE_NAME, id="max-length"),
    ],
)
def test_workspace_name_accepted(name):
    names.validate_workspace_name(name)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * (names.MAX_WORKSPACE_NAME + 1), id="one-over-max"),
        pytest.param("Alice", id="uppercase"),
        pytest.param("-alice", id="leading-dash"),
        pytest.param("alice-", id="trailing-dash"),
        pytest.param("al_ice", id="underscore"),
        pytest.param("al.ice", id="dot"),
        pytest.param("al ice", id="space"),
        pytest.param("alice\n", id="trailing-newline"),
    ],
)
def test_workspace_name_rejected(name):
    with pytest.raises(InvalidInput) as excinfo:
        names.validate_workspace_name(name)

    assert excinfo.value.exit_code == EXIT_USAGE
    if name:
        assert repr(name) in excinfo.value.message


def test_workspace_name_limit_is_52():
    # StatefulSet pods get the label controller-revision-hash=NAME-<10 chars>,
    # and label values are at most 63 characters.
    assert names.MAX_WORKSPACE_NAME == 52
    assert len(names.MAX_WORKSPACE_NAME * "a" + "-" + "0123456789") == 63


def test_default_namespace_fits_label():
    namespace = names.default_namespace("a" * names.MAX_WORKSPACE_NAME)

    assert namespace.startswith("devspace-")
    names.validate_namespace(namespace)


@pytest.mark.parametrize(
    "namespace",
    [
        pytest.param("Team", id="uppercase"),
        pytest.param("a" * 64, id="64-chars"),
        pytest.param("-team", id="leading-dash"),
        pytest.param("", id="empty"),
        pytest.param("team\n", id="trailing-newline"),
    ],
)
def test_namespace_rejected(namespace):
    with pytest.raises(InvalidInput):
        names.validate_namespace(namespace)


@pytest.mark.parametrize(
    "tunnel_name",
    [
        pytest.param("alice", id="plain"),
        pytest.param("a" * names.MAX_TUNNEL_NAME, id="max-length"),
        pytest.param("gpu-box-2", id="digits-and-dashes"),
    ],
)
def test_tunnel_name_accepted(tunnel_name):
    names.validate_tunnel_name(tunnel_name)


@pytest.mark.parametrize(
    "tunnel_name",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * (names.MAX_TUNNEL_NAME + 1), id="21-chars"),
        pytest.param("Alice", id="uppercase"),
        pytest.param("al_ice", id="underscore"),
        pytest.param("al.ice", id="dot"),
        pytest.param("alice\n", id="trailing-newline"),
    ],
)
def test_tunnel_name_rejected(tunnel_name):
    with pytest.raises(InvalidInput) as excinfo:
        names.validate_tunnel_name(tunnel_name)

    assert repr(tunnel_name) in excinfo.value.message
    assert excinfo.value.hint


def test_default_tunnel_name_short_kept():
    assert names.default_tunnel_name("alice") == "alice"


def test_default_tunnel_name_truncated():
    name = "abcdefghijklmnopqrstuvwxyz"

    tunnel_name = names.default_tunnel_name(name)

    assert tunnel_name == name[: names.MAX_TUNNEL_NAME]
    names.validate_tunnel_name(tunnel_name)


def test_default_tunnel_name_no_trailing_dash():
    # The 20th and 19th characters are dashes, so plain truncation would end in "--".
    name = "abcdefghijklmnopq---rest"

    tunnel_name = names.default_tunnel_name(name)

    assert tunnel_name == "abcdefghijklmnopq"
    assert not tunnel_name.endswith("-")
    names.validate_tunnel_name(tunnel_name)


@pytest.mark.parametrize("length", range(1, names.MAX_WORKSPACE_NAME + 1))
def test_default_tunnel_name_always_valid(length):
    # Every valid workspace name, whatever its length, gives a valid tunnel name.
    name = ("ab-" * length)[:length].rstrip("-") or "a"
    names.validate_workspace_name(name)

    tunnel_name = names.default_tunnel_name(name)

    names.validate_tunnel_name(tunnel_name)
    assert len(tunnel_name) <= names.MAX_TUNNEL_NAME
    assert not tunnel_name.endswith("-")


def test_pod_name_is_ordinal_zero():
    assert names.pod_name("alice") == "alice-0"
