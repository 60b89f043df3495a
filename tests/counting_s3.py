"""A moto S3 server on 127.0.0.1 that records every HTTP request reaching it.

What is recorded is what the server received, independently of boto3 or of
the package's own guard, so request counts in tests are the real round trips.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from server_threads import serve_in_background
from werkzeug.serving import BaseWSGIServer, make_server

Request = tuple[str, str]  # (HTTP method, path)


class _RequestHandler(MotoRequestHandler):
    # Without TCP_NODELAY, a response written in two parts waits for the
    # client's delayed ACK: about 40 ms per request on Linux.
    disable_nagle_algorithm = True


class CountingS3Server:
    """A threaded moto server; ``requests`` lists (method, path) of every request."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _app(self) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._lock:
                self.requests.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
            return moto_app(environ, start_response)  # type: ignore[no-any-return]

        return app

    def start(self) -> None:
        self._server = make_server(
            "127.0.0.1", 0, self._app(), threaded=True, request_handler=_RequestHandler
        )
        self._thread = serve_in_background(self._server)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def to_bucket(self, bucket: str) -> list[Request]:
        """The requests that reached ``bucket`` (path-style addressing)."""
        with self._lock:
            return [
                request
                for request in self.requests
                if request[1] == f"/{bucket}" or request[1].startswith(f"/{bucket}/")
            ]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
