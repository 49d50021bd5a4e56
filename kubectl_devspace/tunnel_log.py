"""Reading the VS Code CLI tunnel's log.

The tunnel logs a device-login request as a verification URL and a code,
for GitHub "log into https://github.com/login/device and use code
ABCD-1234", and a new pair when a code expires. Once connected it logs
"https://vscode.dev/tunnel/<name>". When the requested name is taken by a
tunnel elsewhere the CLI picks another name, so the name in use is read
from that URL, not from the pod spec. The latest line of either kind wins.
"""

import re
from dataclasses import dataclass
from typing import Optional

_TUNNEL_URL = re.compile(r"https://vscode\.dev/tunnel/([a-z0-9-]{1,20})(?:/[^\s\"']*)?")
_LOGIN = re.compile(
    r"(https://[^\s\"']+?)[\s.,]+(?:and\s+)?(?:use|enter)\s+(?:the\s+)?code\s+([A-Z0-9][A-Z0-9-]{3,})",
    re.IGNORECASE,
)

# Container logs may carry ANSI colour codes.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class TunnelState:
    """Tunnel state read from its log: connected with a URL, waiting for a login, or neither yet."""

    tunnel_url: Optional[str] = None
    tunnel_name: Optional[str] = None
    login_url: Optional[str] = None
    login_code: Optional[str] = None

    @property
    def state(self):
        if self.tunnel_url:
            return "connected"
        if self.login_code:
            return "login-pending"
        return "starting"


def parse_tunnel_log(text):
    """Return the ``TunnelState`` shown by the latest relevant line of ``text``."""
    state = TunnelState()

    for raw_line in text.splitlines():
        line = _ANSI_ESCAPE.sub("", raw_line)

        login = _LOGIN.search(line)
        if login:
            state = TunnelState(login_url=login.group(1), login_code=login.group(2))
            continue

        tunnel = _TUNNEL_URL.search(line)
        if tunnel:
            name = tunnel.group(1)
            state = TunnelState(tunnel_url=f"https://vscode.dev/tunnel/{name}", tunnel_name=name)

    return state
