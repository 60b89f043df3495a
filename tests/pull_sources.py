"""Lower layers for the pull tests: local directories whose files read slowly or break mid-stream.

Not a test module. ``FaultyStorage`` is a real ``FileSystemStorage``; only the
handle its ``open()`` returns is wrapped: a read can wait (``delay`` seconds per
read); for the names in ``fail`` a read after the first chunk raises
``OSError`` (a connection reset) or ``KeyboardInterrupt`` (Ctrl+C arriving in a
worker thread); with ``sizeless`` the handle cannot tell its size; with
``appear``, the file at that path is created during the first read, as if
another process had written it meanwhile. ``started`` is a file that every
``open()`` appends the name to, so another process can tell that a copy is
under way; with ``hold_until``, every read after a file's first waits until that
path exists (at most a minute), so a copy stays under way until the test lets it
go. Every read size is recorded in ``read_sizes`` and the number of files open
at once in ``most_open``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import IO, Any, cast

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage

__all__ = ["FaultyStorage"]


class FaultyStorage(FileSystemStorage):
    def __init__(
        self,
        *,
        delay: float = 0.0,
        fail: tuple[str, ...] | list[str] = (),
        raise_kind: str = "oserror",
        started: str | None = None,
        hold_until: str | None = None,
        sizeless: bool = False,
        appear: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.sizeless = sizeless
        self.appear = appear
        self.delay = delay
        self.fail = frozenset(fail)
        self.raise_kind = raise_kind
        self.started = started
        self.hold_until = hold_until
        self.read_sizes: list[int] = []
        self.open_now = 0
        self.most_open = 0
        self.lock = threading.Lock()

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        raw = open(self.path(name), mode)  # noqa: SIM115 - closed by the File
        if self.started is not None:
            with open(self.started, "a") as started:
                started.write(f"{name}\n")
        with self.lock:
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        return File(cast(IO[bytes], _Reader(self, raw, name in self.fail)), name)


class _Reader:
    def __init__(self, storage: FaultyStorage, raw: Any, fails: bool) -> None:
        self.storage = storage
        self.raw = raw
        self.fails = fails
        self.reads = 0
        self.closed_once = False

    def read(self, size: int = -1) -> bytes:
        with self.storage.lock:
            self.storage.read_sizes.append(size)
        if self.storage.appear is not None and self.reads == 0:
            with open(self.storage.appear, "wb") as meanwhile:
                meanwhile.write(b"written meanwhile")
        if self.storage.hold_until is not None and self.reads >= 1:
            deadline = time.monotonic() + 60
            while not os.path.exists(self.storage.hold_until) and time.monotonic() < deadline:
                time.sleep(0.02)
        if self.storage.delay:
            time.sleep(self.storage.delay)
        if self.fails and self.reads >= 1:
            if self.storage.raise_kind == "keyboard":
                raise KeyboardInterrupt
            raise ConnectionResetError(104, "Connection reset by peer")
        self.reads += 1
        chunk: bytes = self.raw.read(size)
        return chunk

    def close(self) -> None:
        if not self.closed_once:
            self.closed_once = True
            with self.storage.lock:
                self.storage.open_now -= 1
        self.raw.close()

    def __getattr__(self, attribute: str) -> Any:
        if self.storage.sizeless and attribute in ("size", "name", "seek", "tell"):
            raise AttributeError(attribute)
        return getattr(self.raw, attribute)
