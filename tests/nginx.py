"""nginx (Debian's package) on 127.0.0.1 as a child process, serving a media directory.

:class:`Nginx` writes a configuration of its own into a work directory (pid
file, logs and temporary paths all there), starts ``nginx`` in the foreground
as one process (``master_process off``), so stopping the child stops the
server, and reads its access log to tell what reached it. Used by the HTTP
tests and by ``benchmarks/http_bench.py``.

Locations served (every one over ``media``):

* ``/media/``: the files;
* ``/private/``: the files behind HTTP basic auth (user ``reader``, password
  :data:`PASSWORD`);
* ``/token/``: the files for the bearer token :data:`TOKEN` only (401 otherwise);
* ``/moved/``: a 301 to the same name under ``/media/``;
* ``/forbidden/`` (403), ``/gone/`` (410).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PASSWORD", "TOKEN", "Logged", "Nginx"]

PASSWORD = "open sesame"
TOKEN = "not-a-real-token"
START_LIMIT = 10.0  # seconds; a guard against hanging, not a measurement
SETTLE_LIMIT = 10.0

_CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log notice;
events {{ worker_connections 256; }}
http {{
    map $http_authorization $auth_kind {{
        "" none;
        "~^Basic " basic;
        "~^Bearer " bearer;
        default other;
    }}
    log_format probe '$request_method\\t$request_uri\\t$status\\t$body_bytes_sent\\t'
                     '$connection\\t$auth_kind\\t$http_range\\t$http_if_modified_since\\t'
                     '$http_if_none_match';
    access_log {work}/access.log probe;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{
        text/plain txt;
        image/png png;
        application/zip zip;
    }}
    default_type application/octet-stream;
    keepalive_timeout 30s;
    server {{
        listen 127.0.0.1:{port};
        {tls}
        location /media/ {{ alias {media}/; }}
        location /private/ {{
            auth_basic "private";
            auth_basic_user_file {work}/htpasswd;
            alias {media}/;
        }}
        location /token/ {{
            if ($http_authorization != "Bearer {token}") {{ return 401; }}
            alias {media}/;
        }}
        location /moved/ {{ rewrite ^/moved/(.*)$ /media/$1 permanent; }}
        location /forbidden/ {{ return 403; }}
        location /gone/ {{ return 410; }}
        location /__settle__/ {{ return 204; }}
    }}
}}
"""


@dataclass(frozen=True)
class Logged:
    """One request in nginx's access log."""

    method: str
    uri: str
    status: int
    body_bytes: int
    connection: int
    auth: str  # "none", "basic", "bearer" or "other"; never the secret itself
    range: str
    conditional: str  # If-Modified-Since and If-None-Match as sent ("" when neither)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Nginx:
    """One nginx serving ``media``; ``tls`` is (certificate, key) paths for an HTTPS port."""

    def __init__(self, program: str, work: Path, media: Path, tls: tuple[Path, Path] | None = None):
        self.program = program
        self.work = work
        self.media = media
        self.tls = tls
        self.port = 0
        self.tls_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def tls_url(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}/"

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "htpasswd").write_text(f"reader:{{PLAIN}}{PASSWORD}\n")
        for attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            tls = ""
            if self.tls is not None:
                self.tls_port = free_port()
                certificate, key = self.tls
                tls = (
                    f"listen 127.0.0.1:{self.tls_port} ssl; "
                    f"ssl_certificate {certificate}; ssl_certificate_key {key};"
                )
            config = self.work / "nginx.conf"
            config.write_text(
                _CONFIG.format(
                    work=self.work, port=self.port, media=self.media, token=TOKEN, tls=tls
                )
            )
            self.process = subprocess.Popen(
                [self.program, "-p", str(self.work), "-c", str(config), "-e", "error.log"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready():
                return
            self.stop()
            if attempt == 2 or "Address already in use" not in self.errors():
                raise RuntimeError(f"nginx did not start:\n{self.errors()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_LIMIT
        assert self.process is not None
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def errors(self) -> str:
        path = self.work / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- what reached it ---------------------------------------------------------------

    def _lines(self) -> list[str]:
        path = self.work / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def settle(self) -> None:
        """Wait until every request answered so far is in the access log.

        nginx logs a request when it is done with it, and this one process
        handles requests in turn, so once a request sent now is logged, every
        earlier one is too.
        """
        marker = f"/__settle__/{uuid.uuid4().hex}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", marker)
            connection.getresponse().read()
        finally:
            connection.close()
        deadline = time.monotonic() + SETTLE_LIMIT
        while not any(marker in line for line in self._lines()):
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx did not log {marker} within {SETTLE_LIMIT} s")
            time.sleep(0.005)

    def mark(self) -> int:
        """A position in the log: ``requests(since=...)`` returns what came after it."""
        self.settle()
        return len(self._lines())

    def requests(self, since: int = 0) -> list[Logged]:
        """The requests logged after ``since`` (a :meth:`mark`), settling markers left out."""
        self.settle()
        entries = []
        for line in self._lines()[since:]:
            method, uri, status, sent, connection, auth, range_, modified, match = line.split("\t")
            if uri.startswith("/__settle__/"):
                continue
            entries.append(
                Logged(
                    method,
                    uri,
                    int(status),
                    int(sent),
                    int(connection),
                    auth,
                    "" if range_ == "-" else range_,
                    "".join(part for part in (modified, match) if part != "-"),
                )
            )
        return entries
