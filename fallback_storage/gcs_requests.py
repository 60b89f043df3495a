"""What an HTTP request to Google Cloud Storage targets, and whether it only reads.

The Google Cloud Storage guard (:mod:`fallback_storage.gcs_guard`) and the test
guard (:class:`fallback_storage.cloud_testing.GCSBucketGuard`) look at every request
a ``google-cloud-storage`` client sends and ask this module which bucket and
object it reaches and whether it is a read. Nothing here imports the SDK.

How a bucket is identified (the ``endpoint`` of its
:class:`~fallback_storage.protection.Container`): ``"google"`` for every
Google host (``storage.googleapis.com``, ``<bucket>.storage.googleapis.com``,
the mTLS and regional endpoints, ``www.googleapis.com``,
``storage.cloud.google.com``), since bucket names are global there;
otherwise the normalised ``host:port`` (the emulator, another universe).

Requests are read in the shapes the SDK sends: the JSON API
(``/storage/v1/b/<bucket>/o/<object>``, its ``/upload`` and ``/download``
forms, ``/b/...`` without the version as emulators accept it, and the parts of
a ``/batch/storage/v1`` request), and the XML API (``/<bucket>/<object>``, or
the bucket in the host name). A copy, rewrite or move writes the bucket named
last in the path (the destination); its source is only read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from fallback_storage.protection import Container, endpoint_identity

__all__ = ["GOOGLE", "GCSTarget", "endpoint_of", "targets"]

SERVICE = "gcs"
GOOGLE = "google"
GOOGLE_HOSTS = ("googleapis.com", "storage.cloud.google.com")
READ_METHODS = frozenset({"GET", "HEAD"})
_VIRTUAL_HOSTED = re.compile(r"^(?P<bucket>.+)\.storage\.googleapis\.com$")
_BATCH_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]\r?$", re.MULTILINE)
_METADATA_NAME = re.compile(rb'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_VERBS = {"GET": "get", "HEAD": "get", "POST": "insert", "PUT": "update", "PATCH": "patch"}
_OBJECT_ACTIONS = {
    "copyTo": "objects.copy",
    "rewriteTo": "objects.rewrite",
    "moveTo": "objects.move",
    "compose": "objects.compose",
    "restore": "objects.restore",
}
_BUCKET_RESOURCES = {
    "acl": "bucketAccessControls",
    "defaultObjectAcl": "defaultObjectAccessControls",
    "notificationConfigs": "notifications",
}


@dataclasses.dataclass(frozen=True)
class GCSTarget:
    """One bucket (and object) an HTTP request reaches, and what it does there."""

    endpoint: str
    bucket: str
    blob: str | None
    operation: str
    is_read: bool

    @property
    def protected_container(self) -> Container:
        """The bucket, as :mod:`fallback_storage.protection` registers it."""
        return Container(SERVICE, self.endpoint, self.bucket)

    @property
    def where(self) -> str:
        """``gs://<bucket>[/<object>]``."""
        return f"gs://{self.bucket}/{self.blob}" if self.blob else f"gs://{self.bucket}"


def endpoint_of(url: str | None) -> str:
    """The endpoint identity of an API base URL (None: Google's own)."""
    return endpoint_identity(url, cloud=GOOGLE, cloud_hosts=GOOGLE_HOSTS)


def _json_target(
    endpoint: str, method: str, segments: list[str], upload: str | bool, is_read: bool
) -> GCSTarget | None:
    last_bucket = max((i for i, s in enumerate(segments[:-1]) if s == "b"), default=None)
    if last_bucket is None:
        return None
    # A bucket name holds no slash: an encoded one would end the name on the server.
    bucket = unquote(segments[last_bucket + 1]).split("/", 1)[0]
    rest = segments[last_bucket + 2 :]
    verb = "delete" if method == "DELETE" else _VERBS.get(method, method.lower())
    blob: str | None = None
    copied_by = segments[last_bucket - 1] if last_bucket > 0 else None
    if upload:
        operation = "objects.insert"
        blob = upload if isinstance(upload, str) else None
    elif copied_by in _OBJECT_ACTIONS and rest[:1] == ["o"] and len(rest) > 1:
        # .../copyTo/b/<destination>/o/<object>: the destination is written.
        operation, blob = _OBJECT_ACTIONS[copied_by], unquote(rest[1])
    elif rest[:1] == ["o"] and len(rest) > 1:
        blob = unquote(rest[1])
        action = rest[2] if len(rest) > 2 else None
        if blob in {"watch", "bulkRestore"} and action is None:
            operation, blob = f"objects.{blob}", None
        elif action in _OBJECT_ACTIONS:
            operation = _OBJECT_ACTIONS[action]
        elif action == "acl":
            operation = f"objectAccessControls.{verb}"
        else:
            operation = f"objects.{verb}"
    elif rest[:1] == ["o"]:
        operation = "objects.list" if method in READ_METHODS else f"objects.{verb}"
    elif rest[:1] == ["iam"]:
        operation = "buckets.getIamPolicy" if method in READ_METHODS else "buckets.setIamPolicy"
    elif rest[:1] == ["lockRetentionPolicy"]:
        operation = "buckets.lockRetentionPolicy"
    elif rest and rest[0] in _BUCKET_RESOURCES:
        operation = f"{_BUCKET_RESOURCES[rest[0]]}.{verb}"
    else:
        operation = f"buckets.{verb}"
    return GCSTarget(endpoint, bucket, blob, operation, is_read)


def _uploaded_name(query: Mapping[str, str], body: object) -> str | bool:
    """The object name an upload names (in the query, or its JSON metadata), else True."""
    if query.get("name"):
        return query["name"]
    content = body.encode("utf-8") if isinstance(body, str) else body
    if isinstance(content, (bytes, bytearray)):
        match = _METADATA_NAME.search(bytes(content[:65536]))
        if match:
            with contextlib.suppress(ValueError):
                name = json.loads(b'"' + match[1] + b'"')
                if isinstance(name, str) and name:
                    return name
    return True


def _request_target(
    method: str, url: str, headers: Mapping[str, str], body: object = None
) -> GCSTarget | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return None
    endpoint = endpoint_of(url)
    method = method.upper()
    override = headers.get("x-http-method-override", method).upper()
    is_read = method in READ_METHODS and override in READ_METHODS
    segments = parts.path.lstrip("/").split("/")
    virtual = _VIRTUAL_HOSTED.match(host)
    if virtual and host != "storage.googleapis.com":
        blob = unquote(parts.path.lstrip("/")) or None
        return GCSTarget(endpoint, virtual["bucket"], blob, f"XML API {method}", is_read)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    upload = _uploaded_name(query, body) if segments[:1] == ["upload"] else False
    if segments[:1] in (["upload"], ["download"]):
        segments = segments[1:]
    if segments[:2] == ["storage", "v1"]:
        return _json_target(endpoint, override, segments[2:], upload, is_read)
    if segments[:1] == ["b"]:
        return _json_target(endpoint, override, segments, upload, is_read)
    if not segments or not segments[0]:
        return None
    bucket, _, blob_path = unquote(parts.path).lstrip("/").partition("/")
    blob = blob_path or None
    operation = f"XML API {method}{' (multipart upload)' if 'uploads' in query else ''}"
    return GCSTarget(endpoint, bucket, blob, operation, is_read)


def targets(method: str, url: str, headers: Mapping[str, str], body: object) -> list[GCSTarget]:
    """Every bucket and object the request reaches, the parts of a batch included.

    ``headers`` may have any case; ``body`` is the request body as sent.
    """
    lowered = {str(key).lower(): str(value) for key, value in (headers or {}).items()}
    path = urlsplit(url).path
    if path.rstrip("/").endswith("/batch/storage/v1"):
        content = body.encode("utf-8") if isinstance(body, str) else body
        if not isinstance(content, (bytes, bytearray)):
            return []
        found = []
        for sub_method, sub_url in _BATCH_REQUEST_LINE.findall(bytes(content)):
            target = _request_target(
                sub_method.decode("latin-1"), urljoin(url, sub_url.decode("latin-1")), {}
            )
            if target is not None:
                found.append(dataclasses.replace(target, operation=f"batch: {target.operation}"))
        return found
    target = _request_target(method, url, lowered, body)
    return [target] if target is not None else []
