"""Client-level read-only guard for django-storages' ``S3Storage``.

:class:`~fallback_storage.storage.ReadOnlyStorage` refuses writes at the
storage API, but code can still reach the wrapped backend's boto3 objects
(``storage.bucket.Object(key).delete()``), an ``S3File`` writes on close, and
``url(..., http_method="PUT")`` signs a write. :func:`protect` closes those
paths: every boto3 session the backend creates from then on (both
``connection`` and ``unsigned_connection``, in every thread) carries botocore
event handlers that let only read operations through, checked three times:

* ``before-parameter-build``: the operation must be in
  :func:`read_only_operations`, an allowlist computed from botocore's own S3
  service model, so an operation AWS adds later is refused by default;
* ``before-sign``: the HTTP method being signed, which also covers presigned
  URLs whose method was switched with ``HttpMethod``;
* ``before-send``: the HTTP request itself, registered first so it runs
  before anything that answers requests in-process (moto, botocore's stubs).

Managed transfers of a protected client are pinned to the classic s3transfer
manager, whose requests go through those handlers; the CRT transfer manager
would send them itself. Presigned POST forms are refused outright.

django-storages and boto3 are an optional extra: nothing here imports them
before a storage that needs them turns up.
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
import threading
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, cast

from fallback_storage.exceptions import ReadOnlyStorageError

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.awsrequest import AWSRequest
    from botocore.client import BaseClient
    from botocore.hooks import BaseEventHooks
    from botocore.model import OperationModel

__all__ = [
    "describe",
    "handles",
    "is_protected",
    "is_s3_storage",
    "protect",
    "read_only_operations",
]

READ_METHODS = frozenset({"GET", "HEAD"})
# S3 Select is sent as a POST but only reads (it filters an object server-side).
READ_POST_OPERATIONS = frozenset({"SelectObjectContent"})
TRANSFER_METHODS = ("copy", "download_file", "download_fileobj", "upload_file", "upload_fileobj")

_HANDLER_ID = "fallback_storage.s3_guard"
# Where the operation handler leaves (bucket, key) for the later, request-level checks.
_TARGET = "fallback_storage_s3_target"


@functools.cache
def read_only_operations() -> frozenset[str]:
    """Return the names of the S3 operations a protected client lets through.

    These are the operations botocore's S3 service model sends as ``GET`` or
    ``HEAD``, plus ``SelectObjectContent``.
    """
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    model = ServiceModel(create_loader().load_service_model("s3", "service-2"), "s3")
    reads = {
        name
        for name in model.operation_names
        if model.operation_model(name).http.get("method") in READ_METHODS
    }
    return frozenset(reads | READ_POST_OPERATIONS)


def is_s3_storage(storage: object) -> bool:
    """Return whether ``storage`` is a django-storages ``S3Storage`` (or subclass) instance."""
    # No instance can exist before its module was imported, and importing it
    # here would fail without boto3, so only look at what is loaded already.
    module = sys.modules.get("storages.backends.s3")
    return module is not None and isinstance(storage, module.S3Storage)


#: The guard protocol of :mod:`fallback_storage.cloud_guards`.
handles = is_s3_storage


def describe(storage: object) -> str:
    """How refusals name an ``S3Storage``: its class and bucket."""
    return f"{type(storage).__qualname__}(bucket_name={getattr(storage, 'bucket_name', None)!r})"


def protect(storage: object, *, backend: str | None = None) -> None:
    """Make an ``S3Storage`` instance read-only down to its boto3 clients.

    Sessions the storage creates from now on are guarded; clients it created
    already in this thread (and its ``bucket``) are guarded in place, and its
    per-thread connection caches are emptied so every other thread creates new,
    guarded ones. ``backend`` describes the storage in error messages. Calling
    it again on the same storage does nothing.
    """
    if not is_s3_storage(storage):
        raise TypeError(
            f"protect() needs a django-storages S3Storage instance, got {storage!r}; "
            f"wrap other storages in ReadOnlyStorage only."
        )
    s3_storage = cast("_S3Storage", storage)
    if is_protected(s3_storage):
        return
    guard = _Guard(backend or describe(storage))
    for resource in (
        getattr(s3_storage._connections, "connection", None),
        getattr(s3_storage._unsigned_connections, "connection", None),
        s3_storage._bucket,
    ):
        if resource is not None:
            _guard_client(resource.meta.client, guard)
    vars(s3_storage)["_create_session"] = _GuardedSessionFactory(s3_storage, guard)
    s3_storage._connections = threading.local()
    s3_storage._unsigned_connections = threading.local()
    s3_storage._bucket = None


def is_protected(storage: object) -> bool:
    """Return whether ``storage`` is an ``S3Storage`` whose clients :func:`protect` guards."""
    # protect() swaps the instance's session factory for a guarded one.
    return is_s3_storage(storage) and isinstance(
        vars(storage).get("_create_session"), _GuardedSessionFactory
    )


class _S3Storage(Protocol):
    bucket_name: str
    _connections: threading.local
    _unsigned_connections: threading.local
    _bucket: Any

    def _create_session(self) -> Session: ...


class _Guard:
    """The event handlers and client methods of one protected storage."""

    def __init__(self, backend: str) -> None:
        self.backend = backend

    def refusal(
        self, what: str, *, operation: str, bucket: str | None, key: str | None
    ) -> ReadOnlyStorageError:
        where = ""
        if bucket:
            where = f" on {f's3://{bucket}/{key}' if key else f's3://{bucket}'!r}"
        return ReadOnlyStorageError(
            f"{what}{where} was refused; {self.backend} is wrapped in ReadOnlyStorage, "
            f"use the backend directly without ReadOnlyStorage to write to it.",
            operation=operation,
            name=key,
            backend=self.backend,
        )

    def check_operation(
        self, model: OperationModel, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        bucket, key = params.get("Bucket"), params.get("Key")
        target = (
            bucket if isinstance(bucket, str) else None,
            key if isinstance(key, str) else None,
        )
        context[_TARGET] = target
        if model.name not in read_only_operations():
            what = (
                "Presigning S3 operation" if context.get("is_presign_request") else "S3 operation"
            )
            raise self.refusal(
                f"{what} {model.name!r}", operation=model.name, bucket=target[0], key=target[1]
            )

    def check_request(self, request: AWSRequest, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        method = (request.method or "").upper()
        if operation in read_only_operations() and (
            method in READ_METHODS or (method == "POST" and operation in READ_POST_OPERATIONS)
        ):
            return
        bucket, key = request.context.get(_TARGET, (None, None))
        if request.context.get("is_presign_request"):
            what = f"Presigned {method} URL for S3 operation {operation!r}"
        else:
            what = f"HTTP {method} request for S3 operation {operation!r}"
        raise self.refusal(what, operation=operation, bucket=bucket, key=key)

    def client_methods(self, attributes: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        """Replacements for the S3 client methods that could go around the events."""
        methods = {
            name: _classic_transfer(attributes[name])
            for name in TRANSFER_METHODS
            if name in attributes
        }

        def generate_presigned_post(
            client: object, Bucket: str, Key: str, *_: Any, **__: Any
        ) -> NoReturn:
            raise self.refusal(
                "Presigned POST for S3 operation 'PutObject'",
                operation="PutObject",
                bucket=Bucket,
                key=Key,
            )

        methods["generate_presigned_post"] = generate_presigned_post
        return methods

    def customize_client_class(self, class_attributes: dict[str, Any], **_: Any) -> None:
        class_attributes.update(self.client_methods(class_attributes))


class _GuardedSessionFactory:
    """Stands in for ``S3Storage._create_session`` on a protected instance.

    A picklable object rather than a closure, because ``S3Storage`` pickles its
    ``__dict__``; a copy of a protected storage stays protected.
    """

    def __init__(self, storage: _S3Storage, guard: _Guard) -> None:
        self.storage = storage
        self.guard = guard

    def __call__(self) -> Session:
        session: Session = type(self.storage)._create_session(self.storage)
        _guard_events(session.events, self.guard)
        session.events.register_last(
            "creating-client-class.s3",
            self.guard.customize_client_class,
            unique_id=f"{_HANDLER_ID}.client-class",
        )
        return session


def _guard_events(events: BaseEventHooks, guard: _Guard) -> None:
    # unique_id makes registering twice on the same emitter a no-op.
    events.register_first(
        "before-parameter-build.s3", guard.check_operation, unique_id=f"{_HANDLER_ID}.operation"
    )
    events.register_first("before-sign.s3", guard.check_request, unique_id=f"{_HANDLER_ID}.sign")
    events.register_first("before-send.s3", guard.check_request, unique_id=f"{_HANDLER_ID}.send")


def _guard_client(client: BaseClient, guard: _Guard) -> None:
    _guard_events(client.meta.events, guard)
    for name, method in guard.client_methods(vars(type(client))).items():
        setattr(client, name, types.MethodType(method, client))


def _classic_transfer(method: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(method)

    @functools.wraps(method)
    def transfer(*args: Any, **kwargs: Any) -> Any:
        from boto3.s3.transfer import TransferConfig

        arguments = signature.bind(*args, **kwargs)
        config = arguments.arguments.get("Config")
        config = copy.copy(config) if config is not None else TransferConfig()
        config.preferred_transfer_client = "classic"
        arguments.arguments["Config"] = config
        return method(*arguments.args, **arguments.kwargs)

    return transfer
