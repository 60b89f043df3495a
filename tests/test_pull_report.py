"""What ``fallback_storage pull`` prints: a tqdm bar on a real terminal (a pty), lines elsewhere."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import sys
import termios
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django_42 import PROGRESS_BAR_IN_ASCII
from test_pull import FAULTY, FILE_SYSTEM, fallback, files_in, on_disk, pull, read_only, seed

CONTENT = {f"photos/{n}.jpg": bytes([n]) * 200_000 for n in range(6)}


@pytest.fixture
def slow(local_dir: Path, prod_dir: Path) -> Iterator[None]:
    seed(prod_dir, CONTENT)
    lower = read_only(on_disk(prod_dir, FAULTY, delay=0.02))
    with override_settings(
        STORAGES={"default": {"BACKEND": FILE_SYSTEM}, "media": fallback(on_disk(local_dir), lower)}
    ):
        yield


def on_a_terminal(*args: str) -> tuple[str, str]:
    """Run the command with stdout on a pseudo-terminal 100 columns wide; return what it drew."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    drawn = bytearray()

    def read() -> None:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the terminal side was closed
                return
            if not data:
                return
            drawn.extend(data)

    reader = threading.Thread(target=read)
    reader.start()
    errors = StringIO()
    with os.fdopen(terminal, "w") as stdout:
        assert stdout.isatty()
        call_command("fallback_storage", "pull", *args, stdout=stdout, stderr=errors)
    reader.join(timeout=10)
    os.close(controller)
    return drawn.decode(), errors.getvalue()


@PROGRESS_BAR_IN_ASCII
def test_a_progress_bar_on_a_terminal(slow: None, local_dir: Path) -> None:
    drawn, errors = on_a_terminal("photos/", "--storage", "media", "--workers", "2")

    assert errors == ""
    assert files_in(local_dir) == CONTENT
    frames = drawn.replace("\r\n", "\n").split("\r")
    final = frames[-1].splitlines()
    # files done of the total, the time taken and left, bytes copied and the byte rate
    assert re.fullmatch(
        r"100%\|█+\| 6/6 files \[\d\d:\d\d<00:00, 1\.1 MiB, [\d.]+ [KM]iB/s\]", final[0]
    )
    assert final[1].startswith("Pulled 6 file(s) (1.1 MiB) in ")
    assert any("/6 files [" in frame and "<" in frame for frame in frames[:-1])  # redrawn
    assert "copied photos/0.jpg" not in drawn  # no line per file under the bar


def test_problems_are_written_above_the_bar(slow: None, prod_dir: Path) -> None:
    drawn, _ = on_a_terminal("photos/", "--storage", "media", "--max-size", "100K")
    assert "too large photos/3.jpg (195.3 KiB, layer 1)" in drawn
    assert "6/6 files" in drawn


def test_lines_on_a_terminal_without_tqdm(
    slow: None, local_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # what `import tqdm` does when it is missing
    drawn, errors = on_a_terminal("photos/1.jpg", "--storage", "media")
    assert errors == (
        "No progress bar: tqdm is not installed; install it with pip install "
        "'django-fallback-storage[pull]'.\n"
    )
    assert drawn.splitlines()[0] == "copied photos/1.jpg (195.3 KiB, layer 1)"
    assert files_in(local_dir) == {"photos/1.jpg": CONTENT["photos/1.jpg"]}


def test_dry_run_lines(slow: None, local_dir: Path) -> None:
    code, out, _ = pull("photos/[01].jpg", "--storage", "media", "--dry-run")
    assert code == 0
    assert out.splitlines()[2:] == ["Would pull 2 file(s) (390.6 KiB)."]
    assert sorted(out.splitlines()[:2]) == [
        "would copy photos/0.jpg (195.3 KiB, layer 1)",
        "would copy photos/1.jpg (195.3 KiB, layer 1)",
    ]
    assert files_in(local_dir) == {}
