"""Running ``kubectl exec`` so that the caller sees only the remote command.

kubectl prints "command terminated with exit code N" to its stderr when the
remote command exits with N != 0, even with ``--quiet``. The remote command's
stdout, stdin and terminal pass straight through. Its stderr passes through a
filter that drops that one closing line. The exit status is kubectl's.
"""

import os
import re
import signal
import subprocess
import sys

_TERMINATED = b"command terminated with exit code "
_TERMINATED_LINE = re.compile(rb"command terminated with exit code (\d+)\r?\n?")

READ_SIZE = 64 * 1024


def run(arguments):
    """Run kubectl with ``arguments`` and return its exit status (128 + N after signal N)."""
    # The terminal's Ctrl-C reaches kubectl too, which forwards it to the
    # remote command or exits; this process waits for kubectl either way.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = subprocess.Popen(arguments, stderr=subprocess.PIPE)
        held = forward_stderr(process.stderr.fileno(), sys.stderr.buffer)
        process.stderr.close()
        returncode = process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)

    if held and not is_closing_line(held, returncode):
        sys.stderr.buffer.write(held)
        sys.stderr.buffer.flush()
    return 128 - returncode if returncode < 0 else returncode


def is_closing_line(line, returncode):
    """Return True when ``line`` is kubectl's report of the exit status ``returncode``."""
    match = _TERMINATED_LINE.fullmatch(line)
    return bool(match) and returncode != 0 and int(match.group(1)) == returncode


def forward_stderr(source_fd, target):
    """Copy ``source_fd`` to ``target`` as it arrives, except a last line that may be kubectl's closing line.

    Returns that held-back last line (empty when there is none), because
    only kubectl's exit status shows whether kubectl or the remote command
    wrote it.
    """
    held = b""

    while True:
        chunk = os.read(source_fd, READ_SIZE)
        if not chunk:
            break

        held += chunk
        ready, held = _split_held(held)
        if ready:
            target.write(ready)
            target.flush()

    if held and not _TERMINATED_LINE.fullmatch(held):
        target.write(held)
        target.flush()
        return b""
    return held


def _split_held(data):
    """Split ``data`` into what can be written now and a tail that may be kubectl's closing line."""
    line_start = data.rfind(b"\n", 0, len(data) - 1) + 1
    tail = data[line_start:]

    may_be_closing_line = _TERMINATED.startswith(tail[: len(_TERMINATED)]) and _could_continue(tail)
    if _TERMINATED_LINE.fullmatch(tail) or may_be_closing_line:
        return data[:line_start], tail
    return data, b""


def _could_continue(tail):
    """Return True while ``tail`` can still grow into the closing line."""
    if len(tail) <= len(_TERMINATED):
        return True
    return re.fullmatch(rb"\d*\r?", tail[len(_TERMINATED):]) is not None
