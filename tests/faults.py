"""Real local faults for the robustness tests: a moto S3 server and a misbehaving proxy.

Everything listens on 127.0.0.1 only. The proxy is bounded: it serves at most
``MAX_REQUESTS`` requests, never delays longer than ``MAX_DELAY`` seconds, and
closes itself after ``LIFETIME`` seconds even if a test forgets to.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from moto.server import ThreadedMotoServer
from server_threads import serve_in_background

_T = TypeVar("_T")

MAX_REQUESTS = 5_000
MAX_DELAY = 10.0
LIFETIME = 300.0

_ERROR_CODES = {403: "AccessDenied", 500: "InternalError", 503: "SlowDown"}
_HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "server", "date", "keep-alive"}


class FaultProxy:
    """An HTTP reverse proxy on 127.0.0.1 that forwards to ``upstream`` or misbehaves.

    ``mode`` is one of ``"pass"`` (forward), ``"delay"`` (wait ``delay``
    seconds, then forward), ``"drop"`` (close the connection without an
    answer), ``"status"`` (answer ``status`` with an S3 error body) and
    ``"forbid_missing"`` (forward, but turn a 404 into a 403, as S3 does for
    credentials without ``s3:ListBucket``). ``requests`` records every
    ``(method, path)`` that arrived, whatever the mode.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.status = 503
        self.delay = 0.0
        self.requests: list[tuple[str, str]] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self._thread = serve_in_background(self.server)
        self._timer = threading.Timer(LIFETIME, self.close)
        self._timer.daemon = True
        self._timer.start()

    @property
    def endpoint_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def record(self, method: str, path: str) -> bool:
        """Record a request; False once the proxy has served its quota."""
        with self._lock:
            self.requests.append((method, path))
            return len(self.requests) <= MAX_REQUESTS

    def close(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        self._timer.cancel()
        self.server.shutdown()
        self.server.server_close()


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if not proxy.record(self.command, self.path) or proxy.stopped.is_set():
                self._error(503)
                return
            if proxy.mode == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if proxy.mode == "status":
                self._error(proxy.status)
                return
            if proxy.mode == "delay":
                proxy.stopped.wait(min(proxy.delay, MAX_DELAY))
            self._forward(body)

        def _forward(self, body: bytes) -> None:
            connection = http.client.HTTPConnection(*proxy.upstream, timeout=10)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                if proxy.mode == "forbid_missing" and response.status == 404:
                    self._error(403)
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                if self.command == "HEAD":
                    upstream_length = response.getheader("Content-Length")
                    if upstream_length is not None:
                        self.send_header("Content-Length", upstream_length)
                else:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
            finally:
                connection.close()

        def _error(self, status: int) -> None:
            code = _ERROR_CODES.get(status, "InternalError")
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>injected by FaultProxy</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

    return Handler


def start_moto() -> tuple[ThreadedMotoServer, tuple[str, int]]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, server.get_host_and_port()


def finishes_within(seconds: float, function: Callable[[], _T]) -> _T:
    """Run ``function`` in a thread; fail the test if it is still running after ``seconds``.

    The bound is generous: it catches a hang (a retry loop without end, a
    missing timeout), not slowness. The thread is a daemon, so a hung call
    cannot keep the test run alive.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    if not done.wait(seconds):
        raise AssertionError(f"the operation did not finish within {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
