"""Unit tests for reading the VS Code CLI tunnel's log (kubectl_devspace.tunnel_log)."""

import pytest

from kubectl_devspace.tunnel_log import TunnelState, parse_tunnel_log

GITHUB_LOGIN = (
    "*\n"
    "* Visual Studio Code Server\n"
    "*\n"
    "[2025-01-01 10:00:00] info To grant access to the server, please log into "
    "https://github.com/login/device and use code ABCD-1234\n"
)
MICROSOFT_LOGIN = (
    "To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
    "and enter the code F7KQ2XWZ9 to authenticate.\n"
)
CONNECTED = "Open this link in your browser https://vscode.dev/tunnel/alice/vscode\n"


def test_empty_log_is_starting():
    state = parse_tunnel_log("")

    assert state == TunnelState()
    assert state.state == "starting"


def test_unrelated_lines_are_starting():
    state = parse_tunnel_log("[info] Creating tunnel with the name: alice\n[info] checking for updates\n")

    assert state.state == "starting"
    assert state.tunnel_url is None
    assert state.login_code is None


def test_github_device_login():
    state = parse_tunnel_log(GITHUB_LOGIN)

    assert state.state == "login-pending"
    assert state.login_url == "https://github.com/login/device"
    assert state.login_code == "ABCD-1234"
    assert state.tunnel_url is None


def test_microsoft_device_login():
    state = parse_tunnel_log(MICROSOFT_LOGIN)

    assert state.state == "login-pending"
    assert state.login_url == "https://microsoft.com/devicelogin"
    assert state.login_code == "F7KQ2XWZ9"


def test_tunnel_url_connected():
    state = parse_tunnel_log(CONNECTED)

    assert state.state == "connected"
    assert state.tunnel_url == "https://vscode.dev/tunnel/alice"
    assert state.tunnel_name == "alice"
    assert state.login_code is None


def test_login_then_url_connected():
    state = parse_tunnel_log(GITHUB_LOGIN + CONNECTED)

    assert state.state == "connected"
    assert state.tunnel_name == "alice"
    assert state.login_code is None


def test_url_then_new_login_pending():
    state = parse_tunnel_log(CONNECTED + GITHUB_LOGIN)

    assert state.state == "login-pending"
    assert state.login_code == "ABCD-1234"
    assert state.tunnel_url is None


def test_expired_code_latest_wins():
    renewed = GITHUB_LOGIN.replace("ABCD-1234", "WXYZ-9876")

    state = parse_tunnel_log(GITHUB_LOGIN + renewed)

    assert state.login_code == "WXYZ-9876"


def test_ansi_colour_codes_stripped():
    coloured = (
        "\x1b[2m[2025-01-01 10:00:00]\x1b[0m \x1b[32minfo\x1b[0m log into "
        "\x1b[1mhttps://github.com/login/device\x1b[0m and use code \x1b[1mABCD-1234\x1b[0m\n"
    )

    state = parse_tunnel_log(coloured)

    assert state.login_url == "https://github.com/login/device"
    assert state.login_code == "ABCD-1234"


def test_ansi_colour_in_tunnel_url():
    state = parse_tunnel_log("Open this link \x1b[4mhttps://vscode.dev/tunnel/alice\x1b[0m\n")

    assert state.tunnel_url == "https://vscode.dev/tunnel/alice"
    assert state.tunnel_name == "alice"


def test_name_chosen_by_cli():
    # The requested name "alice" was taken, so the CLI picked another one.
    log = (
        "[info] Creating tunnel with the name: alice\n"
        "[warn] The name alice is already in use, using alice-2 instead\n"
        "Open this link in your browser https://vscode.dev/tunnel/alice-2/vscode\n"
    )

    state = parse_tunnel_log(log)

    assert state.tunnel_name == "alice-2"
    assert state.tunnel_url == "https://vscode.dev/tunnel/alice-2"


@pytest.mark.parametrize(
    "line_ending",
    [pytest.param("\n", id="lf"), pytest.param("\r\n", id="crlf")],
)
def test_line_endings(line_ending):
    log = GITHUB_LOGIN.replace("\n", line_ending) + CONNECTED.replace("\n", line_ending)

    assert parse_tunnel_log(log).state == "connected"
