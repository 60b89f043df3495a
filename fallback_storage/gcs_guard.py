"""Client-level read-only guard for django-storages' ``GoogleCloudStorage``.

:func:`protect` registers the storage's bucket in
:mod:`fallback_storage.protection`; from then on no ``google-cloud-storage``
client in the process, whoever built it and whenever, in any thread, can send
a request that is not a read to that bucket. Class-level hooks, installed
once, do the checking:

* ``google.cloud.storage.Client._http``, the HTTP transport every request of
  the client goes through: JSON API calls (metadata, ACLs, IAM, deletes,
  copies, rewrites, composes), simple, multipart and resumable uploads, XML
  multipart uploads of the transfer manager, downloads, and the single
  ``POST`` of a batch. The client's transport (an ``AuthorizedSession`` or
  whatever ``_http`` it was given) is handed out wrapped, so every
  ``request()`` is read with :mod:`fallback_storage.gcs_requests` first; one
  that is not a ``GET`` or ``HEAD`` is refused if it reaches a protected
  bucket, and so is a batch holding such a part.
* The signers: ``Blob.generate_signed_url`` and ``Bucket.generate_signed_url``
  with a method other than ``GET`` and ``HEAD`` (``RESUMABLE`` included),
  ``Bucket.generate_upload_policy`` and ``Client.generate_signed_post_policy_v4``
  for a protected bucket, and the ``_signing`` helpers behind them. A signed
  URL can be addressed to any endpoint (``api_access_endpoint``,
  ``bucket_bound_hostname``), so signing is refused when a bucket of that name
  is protected on any endpoint.

google-cloud-storage and django-storages are an optional extra: nothing here
imports them before a ``GoogleCloudStorage`` exists.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fallback_storage import protection
from fallback_storage.exceptions import ReadOnlyStorageError
from fallback_storage.gcs_requests import (
    GOOGLE,
    READ_METHODS,
    SERVICE,
    GCSTarget,
    endpoint_of,
    targets,
)

__all__ = ["describe", "handles", "is_protected", "observe", "protect", "unobserve"]

_lock = threading.Lock()
_installed = False
_protecting = False
_observers: list[Callable[[GCSTarget], None]] = []
_wrapped: weakref.WeakKeyDictionary[Any, GuardedTransport] = weakref.WeakKeyDictionary()


def handles(storage: object) -> bool:
    """Whether ``storage`` is a django-storages ``GoogleCloudStorage`` (or subclass) instance."""
    module = sys.modules.get("storages.backends.gcloud")
    return module is not None and isinstance(storage, module.GoogleCloudStorage)


def describe(storage: object) -> str:
    """How refusals name a ``GoogleCloudStorage``: its class, project and bucket."""
    project = getattr(storage, "project_id", None)
    client = vars(storage).get("_client") if hasattr(storage, "__dict__") else None
    if project is None and client is not None:
        project = getattr(client, "project", None)
    bucket = getattr(storage, "bucket_name", None)
    return f"{type(storage).__qualname__}(project_id={project!r}, bucket_name={bucket!r})"


def protect(storage: object, *, backend: str | None = None) -> None:
    """Make the bucket of a ``GoogleCloudStorage`` read-only for every client in the process.

    ``backend`` describes the storage in refusals (default :func:`describe`).
    """
    global _protecting
    if not handles(storage):
        raise TypeError(
            f"gcs_guard.protect() needs a django-storages GoogleCloudStorage instance, got "
            f"{storage!r}; wrap other storages in ReadOnlyStorage only."
        )
    bucket = _bucket_of(storage)
    _install()
    protection.protect(bucket, backend=backend or describe(storage))
    _protecting = True


def is_protected(storage: object) -> bool:
    """Whether ``storage`` is a ``GoogleCloudStorage`` whose bucket is protected."""
    return handles(storage) and protection.is_protected(_bucket_of(storage))


def observe(observer: Callable[[GCSTarget], None]) -> None:
    """Call ``observer`` with every bucket and object each request reaches, before it is sent.

    For :class:`fallback_storage.cloud_testing.GCSBucketGuard`; an observer may raise
    to stop the request.
    """
    _install()
    with _lock:
        _observers.append(observer)


def unobserve(observer: Callable[[GCSTarget], None]) -> None:
    """Stop calling ``observer``."""
    with _lock:
        _observers.remove(observer)


def _bucket_of(storage: Any) -> protection.Container:
    # Building the client may look for credentials (and ask a metadata
    # server), so use it only if it exists; otherwise take the endpoint the
    # SDK would choose for it.
    client = vars(storage).get("_client")
    if client is not None:
        base_url = client._connection.API_BASE_URL
    else:
        from google.cloud.storage import _helpers

        base_url = (
            _helpers._get_storage_emulator_override() or _helpers._get_default_storage_base_url()
        )
    return protection.Container(SERVICE, endpoint_of(base_url), str(storage.bucket_name))


def _refusal(what: str, target: GCSTarget, backend: str) -> ReadOnlyStorageError:
    return ReadOnlyStorageError(
        f"{what} on {target.where!r} was refused; {backend} is wrapped in ReadOnlyStorage, "
        f"which makes bucket {target.bucket!r} read-only in this process, so send the write "
        f"to another bucket.",
        operation=target.operation,
        name=target.blob,
        backend=backend,
    )


def check(method: str, url: str, headers: Any, body: object) -> None:
    """Refuse the request if it writes to a protected bucket; tell the observers first."""
    if not _protecting and not _observers:
        return
    found = targets(method, url, headers or {}, body)
    if not found and urlsplit(url).path.rstrip("/").endswith("/batch/storage/v1"):
        # A batch whose parts cannot be read: refused where any bucket is protected.
        endpoint = endpoint_of(url)
        found = [
            GCSTarget(endpoint, bucket.name, None, "batch", is_read=False)
            for bucket in protection.protected_containers(SERVICE)
            if bucket.endpoint == endpoint
        ]
    for target in found:
        for observer in tuple(_observers):
            observer(target)
        if target.is_read:
            continue
        backend = protection.protected_by(target.protected_container)
        if backend is not None:
            raise _refusal(
                f"Google Cloud Storage request {target.operation!r} ({method.upper()})",
                target,
                backend,
            )


class GuardedTransport:
    """A client's HTTP transport, with every ``request()`` checked by :func:`check` first."""

    def __init__(self, transport: Any) -> None:
        vars(self)["_transport"] = transport

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        transport = vars(self)["_transport"]
        data, headers = kwargs.get("data"), kwargs.get("headers")
        if args:
            # Positional arguments mean what the transport's own signature says
            # (requests: params, data, headers; AuthorizedSession: data, headers).
            try:
                bound = inspect.signature(transport.request).bind(method, url, *args, **kwargs)
            except (TypeError, ValueError):
                bound = None
            if bound is not None:
                data = bound.arguments.get("data", data)
                headers = bound.arguments.get("headers", headers)
        check(method, url, headers, data)
        return transport.request(method, url, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(vars(self)["_transport"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(vars(self)["_transport"], name, value)


def _guarded(transport: Any) -> Any:
    if transport is None or isinstance(transport, GuardedTransport):
        return transport
    try:
        guarded = _wrapped.get(transport)
        if guarded is None:
            guarded = _wrapped[transport] = GuardedTransport(transport)
        return guarded
    except TypeError:  # not weakly referenceable or not hashable
        return GuardedTransport(transport)


def _check_signing(what: str, bucket: str | None, blob: str | None, method: object) -> None:
    method = str(method or "GET").upper()
    if method in READ_METHODS:
        return
    for protected in protection.protected_containers(SERVICE):
        if bucket is not None and protected.name != bucket:
            continue
        backend = protection.protected_by(protected)
        if backend is not None:
            target = GCSTarget(protected.endpoint, protected.name, blob, what, is_read=False)
            raise _refusal(f"Signing {what} for {method}", target, backend)


def _signed_bucket(resource: str, api_access_endpoint: object) -> str | None:
    """The bucket a ``_signing`` call signs for; None when it cannot be told."""
    endpoint = str(api_access_endpoint or "https://storage.googleapis.com")
    host = (urlsplit(endpoint if "//" in endpoint else f"//{endpoint}").hostname or "").lower()
    if host.endswith(".storage.googleapis.com"):
        return host.removesuffix(".storage.googleapis.com")
    identity = endpoint_of(endpoint)
    known = identity == GOOGLE or any(
        bucket.endpoint == identity for bucket in protection.protected_containers(SERVICE)
    )
    # Elsewhere the host may be bound to a bucket, and the resource holds only the object.
    return resource.lstrip("/").split("/", 1)[0] if known else None


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from google.cloud.storage import _signing, blob, bucket, client

        storage_client = client.Client
        transport = next(
            vars(klass)["_http"] for klass in storage_client.__mro__ if "_http" in vars(klass)
        )
        original_http = transport.fget
        storage_client._http = property(lambda self: _guarded(original_http(self)))

        _wrap(
            blob.Blob,
            "generate_signed_url",
            lambda self, a: ("a signed URL", self.bucket.name, self.name, a.get("method", "GET")),
        )
        _wrap(
            bucket.Bucket,
            "generate_signed_url",
            lambda self, a: ("a signed URL", self.name, None, a.get("method", "GET")),
        )
        _wrap(
            bucket.Bucket,
            "generate_upload_policy",
            lambda self, a: ("an upload policy", self.name, None, "POST"),
        )
        _wrap(
            storage_client,
            "generate_signed_post_policy_v4",
            lambda self, a: ("a POST policy", a["bucket_name"], a.get("blob_name"), "POST"),
        )
        for name in ("generate_signed_url_v2", "generate_signed_url_v4"):
            _wrap(
                _signing,
                name,
                lambda _credentials, a: (
                    "a signed URL",
                    _signed_bucket(str(a.get("resource", "")), a.get("api_access_endpoint")),
                    None,
                    a.get("method", "GET"),
                ),
            )
        _installed = True


def _wrap(
    owner: Any,
    name: str,
    target: Callable[[Any, dict[str, Any]], tuple[str, str | None, str | None, object]],
) -> None:
    original = vars(owner)[name]
    signature = inspect.signature(original)

    @functools.wraps(original)
    def signer(first: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(first, *args, **kwargs).arguments
        _check_signing(*target(first, arguments))
        return original(first, *args, **kwargs)

    setattr(owner, name, signer)
