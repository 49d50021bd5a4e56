"""The stderr filter that drops kubectl exec's closing "command terminated" line."""

import io
import os
import threading

import pytest

from kubectl_devspace.kubectl_exec import forward_stderr, is_closing_line

CLOSING = b"command terminated with exit code 3\n"


def _forward(chunks):
    read_fd, write_fd = os.pipe()

    def writer():
        for chunk in chunks:
            os.write(write_fd, chunk)
        os.close(write_fd)

    thread = threading.Thread(target=writer)
    thread.start()
    target = io.BytesIO()
    held = forward_stderr(read_fd, target)
    thread.join(timeout=5)
    os.close(read_fd)
    if not is_closing_line(held, 3):
        target.write(held)
    return target.getvalue()


@pytest.mark.parametrize(
    "chunks",
    [
        [b"err\n" + CLOSING],
        [b"err\n", CLOSING],
        [b"err\ncomm", b"and terminated with exit", b" code 3\n"],
        [b"err\n"] + [bytes([byte]) for byte in CLOSING],
    ],
    ids=["one-chunk", "two-chunks", "split-line", "byte-by-byte"],
)
def test_closing_line_dropped(chunks):
    assert _forward(chunks) == b"err\n"


def test_plain_stderr_kept():
    data = b"warning: something\nno newline at end"
    assert _forward([data]) == data


def test_similar_line_kept():
    data = b"command terminated with exit code 3 (said the app)\n"
    assert _forward([data]) == data


def test_closing_line_mid_stream_kept():
    data = CLOSING + b"more output\n"
    assert _forward([CLOSING, b"more output\n"]) == data


def test_binary_stderr_kept():
    data = os.urandom(200_000)
    assert _forward([data[:70_000], data[70_000:]]) == data


def test_closing_line_needs_matching_status():
    assert is_closing_line(CLOSING, 3)
    assert not is_closing_line(CLOSING, 0)
    assert not is_closing_line(b"command terminated with exit code 9\n", 3)
    assert not is_closing_line(b"command terminated with exit code 0\n", 0)
