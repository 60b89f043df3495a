"""The demo's "production": an S3 bucket served by moto on 127.0.0.1, and a record of its traffic.

The launcher (``run.py``) starts one :class:`Production` before the site and seeds it;
the site's views read :func:`current` to show what reached the bucket. Everything
that reaches the server is recorded at its WSGI entrance, before moto sees it, so the
status panel and the browser test judge the bucket by what actually arrived there,
independently of the package's own guards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from demo_site.images import landscape

BUCKET = "demo-production"
REGION = "us-east-1"
READ_METHODS = frozenset({"GET", "HEAD"})
# Marks in the User-Agent of the launcher's own boto3 clients, so the log can tell them apart.
SEEDER_AGENT = "fallback-storage-demo-seeder"
HTTP_STORAGE_AGENT = "(HTTPStorage)"
MONITOR_AGENT = "fallback-storage-demo-monitor"

# (object key, title, colour, sun position): the "production" images and their database rows.
SEED = (
    ("photos/ember-dunes.png", "Ember dunes", (214, 72, 46), 0.25),
    ("photos/amber-field.png", "Amber field", (232, 163, 35), 0.7),
    ("photos/moss-valley.png", "Moss valley", (72, 160, 72), 0.45),
    ("photos/lagoon.png", "Lagoon", (32, 160, 160), 0.8),
    ("photos/night-sea.png", "Night sea", (50, 92, 210), 0.15),
    ("photos/violet-hour.png", "Violet hour", (150, 70, 190), 0.6),
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Request:
    """One HTTP request that reached the production server."""

    number: int
    method: str
    path: str
    signed_url: bool
    client: str
    status: int | None = None
    #: Whether the request carried credentials (an Authorization header or a signed URL).
    credentials: bool = False


def _client_of(user_agent: str) -> str:
    if MONITOR_AGENT in user_agent:
        return "status monitor"
    if SEEDER_AGENT in user_agent:
        return "seeder"
    if HTTP_STORAGE_AGENT in user_agent:
        return "site (HTTP)"
    if "Botocore" in user_agent or "Boto3" in user_agent:
        return "site (boto3)"
    if "Mozilla" in user_agent:
        return "browser"
    return "other"


@dataclass
class RequestLog:
    """Every request that reached the server, in arrival order; safe to use from any thread."""

    _entries: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """Return ``app`` recording each request it is given."""

        def recording_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            signed_url = "Signature=" in environ.get("QUERY_STRING", "")
            with self._lock:
                entry = Request(
                    number=len(self._entries) + 1,
                    method=environ.get("REQUEST_METHOD", ""),
                    path=environ.get("PATH_INFO", ""),
                    signed_url=signed_url,
                    client=_client_of(environ.get("HTTP_USER_AGENT", "")),
                    credentials=signed_url or "HTTP_AUTHORIZATION" in environ,
                )
                self._entries.append(entry)

            def recording_start_response(status: str, *args: Any) -> Any:
                entry.status = int(status.split()[0])
                return start_response(status, *args)

            return app(environ, recording_start_response)

        return recording_app

    def entries(self) -> list[Request]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RecordingMotoServer(ThreadedMotoServer):
    """moto's ``ThreadedMotoServer`` with every request recorded in ``log``.

    ``ThreadedMotoServer`` offers no hook for its WSGI application, so this
    repeats its small ``_server_entry`` with the application wrapped.
    """

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.log = RequestLog()

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        app = self.log.wrap(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


Snapshot = dict[str, dict[str, str]]


class Production:
    """The embedded production bucket: its server, its seed and what reached it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.server = RecordingMotoServer(ip_address=host, port=0)
        self.endpoint_url = ""
        self.seeded: Snapshot = {}
        self.seeded_at: datetime | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    @property
    def log(self) -> RequestLog:
        return self.server.log

    def start(self) -> None:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.stop()

    def client(self, agent: str) -> Any:
        """A plain boto3 S3 client for the launcher's own use (seeding, monitoring)."""
        # boto3 clients are thread-safe and slow to create: one per agent.
        with self._clients_lock:
            if agent not in self._clients:
                self._clients[agent] = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=REGION,
                    config=Config(user_agent_extra=agent),
                )
            return self._clients[agent]

    def seed(self, public: bool = False) -> list[tuple[str, str]]:
        """Create the bucket with the seed images; return (key, title) for each.

        With ``public``, the images are public-read, so anyone can GET them
        without credentials, as through a CDN. The request log is cleared
        afterwards: from then on, the bucket is "production as it was", and
        nothing should change it.
        """
        client = self.client(SEEDER_AGENT)
        client.create_bucket(Bucket=BUCKET)
        acl = {"ACL": "public-read"} if public else {}
        for key, _, colour, sun_x in SEED:
            client.put_object(
                Bucket=BUCKET,
                Key=key,
                Body=landscape(colour, sun_x),
                ContentType="image/png",
                **acl,
            )
        self.seeded = self.snapshot()  # also makes the monitor's client, while credentials exist
        self.seeded_at = datetime.now(timezone.utc)
        self.log.clear()
        return [(key, title) for key, title, _, _ in SEED]

    def snapshot(self) -> Snapshot:
        """Every object in the bucket now: key -> ETag, size and LastModified, by listing it."""
        client = self.client(MONITOR_AGENT)
        objects: Snapshot = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                objects[item["Key"]] = {
                    "etag": item["ETag"],
                    "size": str(item["Size"]),
                    "last_modified": item["LastModified"].isoformat(),
                }
        return objects

    def status(self) -> dict[str, Any]:
        """What reached the bucket since it was seeded, and whether it still holds the seed."""
        now = self.snapshot()
        entries = self.log.entries()
        by_method: dict[str, int] = {}
        by_client: dict[str, int] = {}
        for entry in entries:
            by_method[entry.method] = by_method.get(entry.method, 0) + 1
            by_client[entry.client] = by_client.get(entry.client, 0) + 1
        changed = sorted(
            key for key in self.seeded.keys() & now.keys() if self.seeded[key] != now[key]
        )
        return {
            "bucket": BUCKET,
            "endpoint_url": self.endpoint_url,
            "seeded_at": self.seeded_at.isoformat() if self.seeded_at else None,
            "seeded": self.seeded,
            "now": now,
            "added": sorted(now.keys() - self.seeded.keys()),
            "removed": sorted(self.seeded.keys() - now.keys()),
            "changed": changed,
            "unchanged": now == self.seeded,
            "requests": [asdict(entry) for entry in entries],
            "requests_by_method": by_method,
            "requests_by_client": by_client,
            "writes": [asdict(e) for e in entries if e.method not in READ_METHODS],
        }


_current: Production | None = None


def current() -> Production | None:
    """The production started by the launcher in this process, if any."""
    return _current


def set_current(production: Production | None) -> None:
    global _current
    _current = production


def recent(entries: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The last ``count`` entries, newest first."""
    return entries[-count:][::-1]
