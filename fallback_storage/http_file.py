"""The file ``HTTPStorage.open()`` returns (:class:`~fallback_storage.http.HTTPStorage`).

One GET per open, streamed: the body is read from the connection only as the
caller reads, a chunk at a time, so a large file is never whole in memory.
Every byte read is also written to an anonymous temporary file (the *spool*),
which makes the file seekable: seeking back (Pillow does, to identify an
image) reads from the spool; seeking forward reads the body up to there;
``seek(0, 2)`` reads it to the end. The spool is deleted when the file is
closed (or the process ends).

Range requests were the other way to seek; they were not chosen because every
seek back would cost a request (Pillow seeks back to the start several times
while it identifies an image), not every origin honours them, and a file
replaced between two requests would mix two versions.
"""

from __future__ import annotations

import io
import tempfile
from typing import IO, Any

import urllib3
from django.core.files.base import File
from urllib3.exceptions import HTTPError

from fallback_storage.http_client import OriginClient

__all__ = ["CHUNK_SIZE", "HTTPFile", "SpooledBody"]

#: Bytes read from the connection at a time.
CHUNK_SIZE = 64 * 1024


class SpooledBody(io.RawIOBase):
    """A seekable, read-only stream over a response body, spooled to disk as it is read."""

    def __init__(self, response: urllib3.BaseHTTPResponse, url: str, client: OriginClient):
        super().__init__()
        self._response: urllib3.BaseHTTPResponse | None = response
        self._url = url
        self._client = client
        self._spool: IO[bytes] | None = None
        self._spooled = 0
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            self._fetch_to(None)
            position = self._spooled + offset
        else:
            raise ValueError(f"invalid whence ({whence!r}, should be 0, 1 or 2)")
        if position < 0:
            raise ValueError(f"negative seek position {position!r}")
        self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        if self._position + len(view) > self._spooled:
            self._fetch_to(self._position + len(view))
        available = self._spooled - self._position
        if available <= 0:
            return 0
        assert self._spool is not None
        self._spool.seek(self._position)
        data = self._spool.read(min(available, len(view)))
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        # One pass to the end instead of RawIOBase's 8 KiB reads.
        self._check_open()
        self._fetch_to(None)
        if self._spool is None or self._position >= self._spooled:
            return b""
        self._spool.seek(self._position)
        data = self._spool.read(self._spooled - self._position)
        self._position += len(data)
        return data

    def _fetch_to(self, end: int | None) -> None:
        """Read the body into the spool up to offset ``end`` (None: to the end), or its end."""
        while self._response is not None and (end is None or self._spooled < end):
            try:
                chunk = self._response.read(CHUNK_SIZE)
            except (HTTPError, OSError) as error:
                self._let_go()
                self._client.fail(self._url, error, during="broke off reading")
            if not chunk:
                self._let_go(finished=True)
                return
            if self._spool is None:
                # Closed in close(); the file has no name, so nothing is left behind.
                self._spool = tempfile.TemporaryFile(prefix="fallback-storage-http-")  # noqa: SIM115
            self._spool.seek(self._spooled)
            self._spool.write(chunk)
            self._spooled += len(chunk)

    def _let_go(self, finished: bool = False) -> None:
        # A body read to its end leaves a connection the pool can reuse; a body
        # abandoned halfway does not, so its connection is closed.
        response, self._response = self._response, None
        if response is None:
            return
        if not finished:
            response.close()
        response.release_conn()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def close(self) -> None:
        if not self.closed:
            self._let_go()
            if self._spool is not None:
                self._spool.close()
        super().close()


class HTTPFile(File):  # type: ignore[type-arg]
    """A :class:`~django.core.files.File` over a :class:`SpooledBody`.

    ``size`` is the response's Content-Length when it gives the file's own
    length; otherwise it is measured, which reads the body to its end.
    """

    def __init__(self, body: SpooledBody, name: str, size: int | None, text: bool) -> None:
        buffered = io.BufferedReader(body, buffer_size=CHUNK_SIZE)
        stream: IO[Any] = io.TextIOWrapper(buffered, encoding="utf-8") if text else buffered
        super().__init__(stream, name)
        self.mode = "r" if text else "rb"
        if size is not None:
            self.size = size

    def __repr__(self) -> str:
        return f"<HTTPFile: {self.name}>"
