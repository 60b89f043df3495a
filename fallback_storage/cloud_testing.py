"""Prove that tests leave Azure containers and Google Cloud Storage buckets untouched.

:class:`AzureContainerGuard` and :class:`GCSBucketGuard` are what
:class:`~fallback_storage.testing.BucketGuard` is for S3 (and are re-exported
from :mod:`fallback_storage.testing`): context managers and decorators that,
while active, see every request any client of the official SDK
(``azure-storage-blob``, ``google-cloud-storage``) in the process sends to the
named containers or buckets, clients built before the guard was entered
included. A request that is not a read is refused before it is sent (unless
``block=False``), and leaving the guard raises
:class:`~fallback_storage.exceptions.BucketTouchedError` listing every such
request with its blob and the line of code it came from, even when the code
under test caught the refusal.

They watch from the same class-level hooks as the client guards
(:mod:`fallback_storage.azure_guard`, :mod:`fallback_storage.gcs_guard`), so
they see what those see: every request the SDK sends, the parts of a batch
included; a signed URL or SAS used by other HTTP code is out of their sight.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import types
from typing import Any, ClassVar

from fallback_storage import azure_guard, call_sites, gcs_guard
from fallback_storage.exceptions import BucketTouchedError, ReadOnlyStorageError

__all__ = ["AzureContainerGuard", "CloudGuard", "ContainerRequest", "GCSBucketGuard"]

# Modules that send requests on the caller's behalf: a request is reported
# from the first frame outside them, preferably outside every library.
_MACHINERY = ("azure", "google", "requests", "urllib3", "fallback_storage")
_LIBRARIES = (
    *_MACHINERY,
    "storages",
    "django",
    "threading",
    "concurrent",
    "contextlib",
    "functools",
    "asyncio",
)


@dataclasses.dataclass(frozen=True)
class ContainerRequest:
    """One request an :class:`AzureContainerGuard` or :class:`GCSBucketGuard` saw."""

    operation: str
    container: str
    blob: str | None
    where: str
    is_read: bool
    called_from: str
    thread: str

    def describe(self) -> str:
        """One line: operation, target and the code that sent it."""
        return (
            f"{self.operation} {self.where} (called from {self.called_from}, "
            f"thread {self.thread!r})"
        )


class CloudGuard(contextlib.ContextDecorator):
    """What :class:`AzureContainerGuard` and :class:`GCSBucketGuard` share.

    ``names`` are the containers or buckets to guard; ``block`` whether a
    request that is not a read is refused before it is sent.
    """

    service: ClassVar[str]
    kind: ClassVar[str]
    _active: ClassVar[list[Any]]
    _lock: ClassVar[threading.Lock]

    def __init__(self, *names: str, block: bool = True) -> None:
        if not names or not all(isinstance(name, str) and name for name in names):
            example = "media" if self.kind == "container" else "prod-media"
            raise ValueError(
                f"{type(self).__name__} needs {self.kind} names, got {names!r}; pass the names "
                f"of the {self.kind}s to leave untouched, e.g. {type(self).__name__}({example!r})."
            )
        self.names = frozenset(names)
        self.block = block
        self.requests: list[ContainerRequest] = []
        self._depth = 0

    @property
    def reads(self) -> list[ContainerRequest]:
        """The requests seen that only read."""
        return [request for request in self.requests if request.is_read]

    @property
    def writes(self) -> list[ContainerRequest]:
        """The requests seen that are not reads."""
        return [request for request in self.requests if not request.is_read]

    def __enter__(self) -> Any:
        cls = type(self)
        with cls._lock:
            if self._depth == 0:
                self.requests = []
            self._depth += 1
            first = not cls._active
            cls._active.append(self)
        if first:
            cls._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        cls = type(self)
        with cls._lock:
            cls._active.remove(self)
            self._depth -= 1
            last = not cls._active
        if last:
            cls._stop()
        writes = self.writes
        if writes and self._depth == 0:
            raise BucketTouchedError(self.report(), requests=tuple(writes))

    def report(self) -> str:
        """The failure report: every request that is not a read, one per line."""
        writes = self.writes
        names = ", ".join(repr(name) for name in sorted(self.names))
        return "\n".join(
            [
                f"{len(writes)} {self.service} request(s) that are not reads reached guarded "
                f"{self.kind}(s) {names}; make the code under test write elsewhere, e.g. wrap "
                f"the production backend in fallback_storage.storage.ReadOnlyStorage.",
                *(f"  {request.describe()}" for request in writes),
            ]
        )

    def matches(self, target: Any) -> bool:  # pragma: no cover - overridden
        """Whether this guard guards the container ``target`` reaches."""
        raise NotImplementedError

    @classmethod
    def _start(cls) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def _stop(cls) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def _see(cls, target: Any, container: str) -> None:
        with cls._lock:
            guards = [guard for guard in cls._active if guard.matches(target)]
        if not guards:
            return
        request = ContainerRequest(
            operation=target.operation,
            container=container,
            blob=target.blob,
            where=target.where,
            is_read=target.is_read,
            called_from=call_sites.caller(_MACHINERY, _LIBRARIES),
            thread=threading.current_thread().name,
        )
        with cls._lock:
            for guard in dict.fromkeys(guards):
                guard.requests.append(request)
        if not request.is_read and any(guard.block for guard in guards):
            raise ReadOnlyStorageError(
                f"{cls.service} request {request.operation!r} on {request.where!r} was refused; "
                f"{cls.kind} {container!r} is guarded by fallback_storage.testing.{cls.__name__}, "
                f"which lets only reads reach it, make the code under test write to another "
                f"{cls.kind}.",
                operation=request.operation,
                name=request.blob,
                backend=request.where,
            )


class AzureContainerGuard(CloudGuard):
    """Fail if an Azure Blob Storage request that is not a read reaches one of ``containers``.

    A name is a container (``"media"``, on any account) or an account and a
    container (``"devstoreaccount1/media"``). With ``block=True`` (the
    default) such a request raises
    :class:`~fallback_storage.exceptions.ReadOnlyStorageError` before it is
    sent; with ``block=False`` it is sent. Either way leaving the guard raises
    :class:`~fallback_storage.exceptions.BucketTouchedError` listing them.
    ``requests`` holds every request to the guarded containers, reads included.
    """

    service = "Azure Blob Storage"
    kind = "container"
    _active: ClassVar[list[AzureContainerGuard]] = []
    _lock = threading.Lock()

    def matches(self, target: Any) -> bool:
        return bool({target.container, f"{target.account}/{target.container}"} & self.names)

    @classmethod
    def _start(cls) -> None:
        azure_guard.observe(_see_azure)

    @classmethod
    def _stop(cls) -> None:
        azure_guard.unobserve(_see_azure)


class GCSBucketGuard(CloudGuard):
    """Fail if a Google Cloud Storage request that is not a read reaches one of ``buckets``.

    With ``block=True`` (the default) such a request raises
    :class:`~fallback_storage.exceptions.ReadOnlyStorageError` before it is
    sent; with ``block=False`` it is sent. Either way leaving the guard raises
    :class:`~fallback_storage.exceptions.BucketTouchedError` listing them.
    ``requests`` holds every request to the guarded buckets, reads included.
    """

    service = "Google Cloud Storage"
    kind = "bucket"
    _active: ClassVar[list[GCSBucketGuard]] = []
    _lock = threading.Lock()

    def matches(self, target: Any) -> bool:
        return target.bucket in self.names

    @classmethod
    def _start(cls) -> None:
        gcs_guard.observe(_see_gcs)

    @classmethod
    def _stop(cls) -> None:
        gcs_guard.unobserve(_see_gcs)


def _see_azure(target: Any) -> None:
    AzureContainerGuard._see(target, target.container)


def _see_gcs(target: Any) -> None:
    GCSBucketGuard._see(target, target.bucket)
