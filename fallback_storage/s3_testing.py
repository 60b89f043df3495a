"""The S3 test guard, exported by :mod:`fallback_storage.testing`.

While a :class:`~fallback_storage.testing.BucketGuard` is active, every S3
request that any boto3 client in the process sends to the named buckets is
seen, clients created before it was entered included. A request that is not a read
(``fallback_storage.s3_guard.read_only_operations()``) is refused before it
is sent, and leaving the guard raises
:class:`~fallback_storage.exceptions.BucketTouchedError` with every such
request, its key and the line of code it came from, even when the code under
test caught the refusal.

The guard hooks ``botocore.client.BaseClient._make_api_call``, the one method
every client operation, paginator, waiter, resource and managed transfer goes
through, at the class level, so it needs no moto-specific hook and works
against real S3. Requests built without a client (presigned URLs used by
other HTTP code) are out of its sight. Import it from
:mod:`fallback_storage.testing`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import types
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from fallback_storage import call_sites
from fallback_storage.exceptions import BucketTouchedError, ReadOnlyStorageError
from fallback_storage.s3_operations import read_only_operations

__all__ = ["BucketGuard", "S3Request"]

# Modules that send requests on the caller's behalf: a request is reported
# from the first frame outside them, preferably outside every library.
_MACHINERY = ("botocore", "boto3", "s3transfer", "fallback_storage.s3_testing")
_LIBRARIES = (
    *_MACHINERY,
    "fallback_storage",
    "storages",
    "django",
    "moto",
    "threading",
    "concurrent",
    "contextlib",
    "functools",
)


@dataclasses.dataclass(frozen=True)
class S3Request:
    """One S3 request a :class:`BucketGuard` saw reach a guarded bucket."""

    operation: str
    bucket: str
    keys: tuple[str, ...]
    called_from: str
    thread: str

    @property
    def is_read(self) -> bool:
        """Whether the operation only reads."""
        return self.operation in read_only_operations()

    def describe(self) -> str:
        """One line: operation, target and the code that sent it."""
        targets = ", ".join(f"s3://{self.bucket}/{key}" for key in self.keys)
        return (
            f"{self.operation} {targets or f's3://{self.bucket}'} "
            f"(called from {self.called_from}, thread {self.thread!r})"
        )


_lock = threading.Lock()
_active: list[BucketGuard] = []
_original: Callable[..., Any] | None = None
_original_transfer: Callable[..., Any] | None = None
# Managed transfers send their requests from worker threads, whose stacks hold
# no user code: remember where each transfer was started, by its coordinator.
_transfer_origins: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


class BucketGuard(contextlib.ContextDecorator):
    """Fail if an S3 request that is not a read reaches one of ``buckets``.

    With ``block=True`` (the default) such a request raises
    :class:`~fallback_storage.exceptions.ReadOnlyStorageError` before it is
    sent; with ``block=False`` it is sent. Either way leaving the guard raises
    :class:`~fallback_storage.exceptions.BucketTouchedError` listing them.
    ``requests`` holds every request to the guarded buckets, reads included.
    """

    def __init__(self, *buckets: str, block: bool = True) -> None:
        if not buckets or not all(isinstance(bucket, str) and bucket for bucket in buckets):
            raise ValueError(
                f"BucketGuard needs bucket names, got {buckets!r}; pass the names of "
                f"the buckets to leave untouched, e.g. BucketGuard('prod-media')."
            )
        self.buckets = frozenset(buckets)
        self.block = block
        self.requests: list[S3Request] = []
        self._depth = 0

    @property
    def reads(self) -> list[S3Request]:
        """The requests seen that only read."""
        return [request for request in self.requests if request.is_read]

    @property
    def writes(self) -> list[S3Request]:
        """The requests seen that are not reads."""
        return [request for request in self.requests if not request.is_read]

    def __enter__(self) -> BucketGuard:
        with _lock:
            if self._depth == 0:
                self.requests = []
            self._depth += 1
            _active.append(self)
            _install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        with _lock:
            _active.remove(self)
            self._depth -= 1
            if not _active:
                _uninstall()
        writes = self.writes
        if writes and self._depth == 0:
            raise BucketTouchedError(self.report(), requests=tuple(writes))

    def report(self) -> str:
        """The failure report: every request that is not a read, one per line."""
        writes = self.writes
        names = ", ".join(repr(bucket) for bucket in sorted(self.buckets))
        lines = [
            f"{len(writes)} S3 request(s) that are not reads reached guarded bucket(s) "
            f"{names}; make the code under test write elsewhere, e.g. wrap the production "
            f"backend in fallback_storage.storage.ReadOnlyStorage.",
            *(f"  {request.describe()}" for request in writes),
        ]
        return "\n".join(lines)

    def _see(self, request: S3Request) -> None:
        with _lock:
            self.requests.append(request)


def _install() -> None:
    global _original, _original_transfer
    from botocore.client import BaseClient
    from s3transfer.manager import TransferManager

    current = BaseClient.__dict__["_make_api_call"]
    if current is not _make_api_call:
        _original = current
        setattr(BaseClient, "_make_api_call", _make_api_call)  # noqa: B010
    current = TransferManager.__dict__["_get_future_with_components"]
    if current is not _get_future_with_components:
        _original_transfer = current
        setattr(TransferManager, "_get_future_with_components", _get_future_with_components)  # noqa: B010


def _uninstall() -> None:
    from botocore.client import BaseClient
    from s3transfer.manager import TransferManager

    # If someone patched a method after us, leave theirs (and ours under it)
    # in place: with no guard active ours only passes calls through.
    if _original is not None and BaseClient.__dict__["_make_api_call"] is _make_api_call:
        setattr(BaseClient, "_make_api_call", _original)  # noqa: B010
    transfer = TransferManager.__dict__["_get_future_with_components"]
    if _original_transfer is not None and transfer is _get_future_with_components:
        setattr(TransferManager, "_get_future_with_components", _original_transfer)  # noqa: B010


def _get_future_with_components(manager: Any, call_args: Any) -> Any:
    assert _original_transfer is not None  # set before this function is installed
    future, components = _original_transfer(manager, call_args)
    if _active:
        _transfer_origins[components["coordinator"]] = _caller()
    return future, components


def _make_api_call(client: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
    original = _original
    assert original is not None  # set before this function is installed
    bucket = api_params.get("Bucket")
    if not isinstance(bucket, str) or client.meta.service_model.service_name != "s3":
        return original(client, operation_name, api_params)
    with _lock:
        guards = [guard for guard in _active if bucket in guard.buckets]
    if not guards:
        return original(client, operation_name, api_params)
    request = S3Request(
        operation=operation_name,
        bucket=bucket,
        keys=_keys(api_params),
        called_from=_caller(),
        thread=threading.current_thread().name,
    )
    for guard in dict.fromkeys(guards):
        guard._see(request)
    if not request.is_read and any(guard.block for guard in guards):
        target = f"s3://{bucket}/{request.keys[0]}" if request.keys else f"s3://{bucket}"
        raise ReadOnlyStorageError(
            f"S3 operation {operation_name!r} on {target!r} was refused; bucket {bucket!r} "
            f"is guarded by fallback_storage.testing.BucketGuard, which lets only reads "
            f"reach it, make the code under test write to another bucket.",
            operation=operation_name,
            name=request.keys[0] if request.keys else None,
            backend=f"s3://{bucket}",
        )
    return original(client, operation_name, api_params)


def _keys(api_params: Mapping[str, Any]) -> tuple[str, ...]:
    key = api_params.get("Key")
    if isinstance(key, str):
        return (key,)
    objects = (api_params.get("Delete") or {}).get("Objects") or []
    return tuple(str(item.get("Key")) for item in objects if isinstance(item, Mapping))


def _caller() -> str:
    return call_sites.caller(_MACHINERY, _LIBRARIES, _transfer_origin)


def _transfer_origin(frame: types.FrameType) -> str | None:
    """Who queued the transfer an s3transfer worker runs (see _get_future_with_components)."""
    if not str(frame.f_globals.get("__name__", "")).startswith("s3transfer."):
        return None
    coordinator = getattr(frame.f_locals.get("self"), "_transfer_coordinator", None)
    return _transfer_origins.get(coordinator) if coordinator is not None else None


# -- snapshots -------------------------------------------------------------------------
