"""A seeded "production" bucket on moto, and an independent record of every request that reached it.

Not a test module: ``test_s3_guard.py`` and ``test_production_untouched.py`` import from it. The
bucket is served either in process by ``mock_aws``, recorded by moto's own request recorder, or
over real HTTP by a ``ThreadedMotoServer`` on 127.0.0.1, recorded by the server's access log.
Neither recording goes through ``fallback_storage``, so a write the guard failed to see still
shows up. ``Production.assert_untouched()`` checks that only GET and HEAD reached the bucket and
that its state, read with a separate unprotected client, is what it was: keys, ETags,
LastModified, sizes, tags and ACLs of every object, the bucket's ACL, tags and policy, and its
multipart uploads in progress.

Protection lives with the bucket for the rest of the process, so the seeding runs inside
``fallback_storage.protection.seeding`` (an earlier test protected "production" already), and a
test that must write to its bucket without protection takes the ``fresh`` fixture: a bucket name
no other test protects.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import moto.moto_api
import pytest
from botocore.exceptions import ClientError
from freezegun import freeze_time
from moto import mock_aws
from moto.moto_api._internal.recorder.models import Recorder
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from fallback_storage import s3_guard
from fallback_storage.protection import seeding

__all__ = [
    "BACKEND",
    "BIG",
    "BUCKET",
    "SEED",
    "AccessLog",
    "Production",
    "Snapshot",
    "fresh",
    "in_process",
    "make_storage",
    "moto_server",
    "over_http",
    "production",
    "seed",
    "unprotected",
]

BUCKET = "production"
# How the guard and ReadOnlyStorage describe an S3Storage on that bucket.
BACKEND = f"S3Storage(bucket_name={BUCKET!r})"
SEED = {
    "a.txt": b"production a",
    "docs/b.txt": b"production b",
    "docs/deep/c.txt": b"production c",
}
BIG = 9 * 1024 * 1024  # over boto3's 8 MiB multipart threshold
READ_METHODS = frozenset({"GET", "HEAD"})
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REQUEST_LINE = re.compile(r"\"([A-Z]+) (\S+) HTTP/")

Snapshot = dict[str, tuple[str, datetime]]


def state(client: Any, bucket: str) -> dict[str, Any]:
    """Everything a write could change in ``bucket``, read with ``client``."""

    def optional(read: Callable[[], Any]) -> Any:
        try:
            return read()
        except ClientError as error:  # no tags, no policy: that is a state too
            return error.response["Error"]["Code"]

    objects = {
        item["Key"]: {
            "etag": item["ETag"],
            "size": item["Size"],
            "last_modified": item["LastModified"],
            "tags": client.get_object_tagging(Bucket=bucket, Key=item["Key"])["TagSet"],
            "grants": client.get_object_acl(Bucket=bucket, Key=item["Key"])["Grants"],
        }
        for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])
    }
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return {
        "objects": objects,
        "uploads": sorted((upload["Key"], upload["UploadId"]) for upload in uploads),
        "grants": client.get_bucket_acl(Bucket=bucket)["Grants"],
        "tags": optional(lambda: client.get_bucket_tagging(Bucket=bucket)["TagSet"]),
        "policy": optional(lambda: client.get_bucket_policy(Bucket=bucket)["Policy"]),
    }


@dataclass
class Production:
    """A seeded bucket, an S3Storage on it, and what reached the bucket since seeding.

    ``options`` are the S3Storage options that reach the bucket, for building
    more storages on it (from settings, say); ``storage`` is one built with them.
    ``seeded`` is the bucket's whole :func:`state` right after seeding.
    """

    storage: Any
    raw_client: Any  # an unprotected client, for seeding and snapshots only
    requests: Callable[[], list[tuple[str, str]]]
    options: dict[str, Any] = field(default_factory=dict)
    before: Snapshot = field(default_factory=dict)
    bucket: str = BUCKET
    seeded: dict[str, Any] = field(default_factory=dict)
    seeding_requests: int = 0  # requests() before this many were seeding, not writes

    @property
    def backend(self) -> str:
        """How refusals name the storage."""
        return f"S3Storage(bucket_name={self.bucket!r})"

    def snapshot(self) -> Snapshot:
        listing = self.raw_client.list_objects_v2(Bucket=self.bucket)
        return {item["Key"]: (item["ETag"], item["LastModified"]) for item in listing["Contents"]}

    def state(self) -> dict[str, Any]:
        return state(self.raw_client, self.bucket)

    def writes(self) -> list[tuple[str, str]]:
        """The requests that reached the bucket and are not GET or HEAD."""
        requests = self.requests()[self.seeding_requests :]
        return [(method, url) for method, url in requests if method not in READ_METHODS]

    def add(self, objects: Mapping[str, bytes]) -> None:
        """Put more objects in the bucket as part of its seed, protected or not."""
        with seeding(self.bucket):
            for key, body in objects.items():
                self.raw_client.put_object(Bucket=self.bucket, Key=key, Body=body)
        self.seeded = self.state()
        self.before = self.snapshot()
        self.seeding_requests = len(self.requests())

    def assert_untouched(self) -> None:
        assert self.writes() == []
        assert self.snapshot() == self.before
        assert self.state() == self.seeded


def make_storage(**options: Any) -> Any:
    return S3Storage(**{"bucket_name": BUCKET, "region_name": "us-east-1", **options})


def seed(
    client: Any,
    objects: Mapping[str, bytes] = SEED,
    *,
    seeded_at: str | None = None,
    bucket: str = BUCKET,
) -> None:
    """Create the bucket and its objects; ``seeded_at`` freezes the clock, so LastModified."""
    with seeding(bucket), freeze_time(seeded_at) if seeded_at else contextlib.nullcontext():
        client.create_bucket(Bucket=bucket)
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class AccessLog(logging.Handler):
    """Collects the request lines werkzeug logs for every HTTP request the moto server handles."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = REQUEST_LINE.search(ANSI.sub("", record.getMessage()))
        if match:
            self.lines.append((match[1], match[2]))


def in_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    objects: Mapping[str, bytes] = SEED,
    *,
    seeded_at: str | None = None,
    bucket: str = BUCKET,
) -> Iterator[Production]:
    """The bucket under ``mock_aws``, recorded by moto's request recorder."""
    monkeypatch.setenv("MOTO_RECORDER_FILEPATH", str(tmp_path / "moto-recording.jsonl"))
    recorder = Recorder()
    # moto's stubber looks the recorder up on this module for every request.
    monkeypatch.setattr(moto.moto_api, "recorder", recorder)

    def recorded() -> list[tuple[str, str]]:
        entries = recorder.download_recording().splitlines()
        return [(entry["method"], entry["url"]) for entry in map(json.loads, entries)]

    with mock_aws():
        raw_client = boto3.client("s3", region_name="us-east-1")
        seed(raw_client, objects, seeded_at=seeded_at, bucket=bucket)
        seeded = state(raw_client, bucket)
        recorder.reset_recording()
        recorder.start_recording()
        options = {"bucket_name": bucket, "region_name": "us-east-1"}
        yield Production(
            S3Storage(**options), raw_client, recorded, options, bucket=bucket, seeded=seeded
        )
        recorder.stop_recording()


def over_http(
    endpoint: str,
    objects: Mapping[str, bytes] = SEED,
    *,
    seeded_at: str | None = None,
    bucket: str = BUCKET,
) -> Iterator[Production]:
    """The bucket on the ``ThreadedMotoServer`` at ``endpoint``, recorded by its access log."""
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset) as response:
        assert response.status == 200
    access_log = AccessLog()
    werkzeug_logger = logging.getLogger("werkzeug")
    werkzeug_logger.addHandler(access_log)
    old_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.INFO)
    try:
        raw_client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
        seed(raw_client, objects, seeded_at=seeded_at, bucket=bucket)
        seeded = state(raw_client, bucket)
        access_log.lines.clear()
        options = {
            "bucket_name": bucket,
            "region_name": "us-east-1",
            "endpoint_url": endpoint,
            "addressing_style": "path",
        }
        production = Production(
            S3Storage(**options),
            raw_client,
            lambda: list(access_log.lines),
            options,
            bucket=bucket,
            seeded=seeded,
        )
        yield production
        close_clients(production)
    finally:
        werkzeug_logger.removeHandler(access_log)
        werkzeug_logger.setLevel(old_level)


def close_clients(production: Production) -> None:
    """Close the HTTP connections this thread's clients hold, so none is left to the collector."""
    production.raw_client.close()
    storage = production.storage
    for cache in (storage._connections, storage._unsigned_connections):
        resource = getattr(cache, "connection", None)
        if resource is not None:
            resource.meta.client.close()


@pytest.fixture(params=["mock_aws", "http"])
def unprotected(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Production]:
    """The seeded bucket and an S3Storage on it that is not protected (yet)."""
    if request.param == "mock_aws":
        yield from in_process(tmp_path, monkeypatch)
    else:
        yield from over_http(request.getfixturevalue("moto_server"))


@pytest.fixture(params=["mock_aws", "http"])
def fresh(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Production]:
    """As ``unprotected``, on a bucket of its own that no other test protects."""
    bucket = f"fresh-{uuid.uuid4().hex[:12]}"
    if request.param == "mock_aws":
        yield from in_process(tmp_path, monkeypatch, bucket=bucket)
    else:
        yield from over_http(request.getfixturevalue("moto_server"), bucket=bucket)


@pytest.fixture
def production(unprotected: Production) -> Production:
    """The seeded bucket, snapshotted, and an S3Storage on it protected by ``s3_guard.protect``."""
    unprotected.before = unprotected.snapshot()
    s3_guard.protect(unprotected.storage)
    return unprotected
