"""Every exception the package raises of its own.

Each one subclasses the builtin that callers already catch: a refused write
is a :class:`PermissionError`, a method no backend implements is both an
:class:`AttributeError` (the 1.x contract) and a :class:`NotImplementedError`
(what Django code probes for, e.g. ``storage.path()`` in collectstatic).
Configuration errors are Django's own
:class:`~django.core.exceptions.ImproperlyConfigured`. An HTTP origin that
cannot be reached raises a :class:`ConnectionError`, one that does not answer
in time a :class:`TimeoutError`, so callers (and ``FallbackStorage``) can tell
an outage from a missing file.
"""

from __future__ import annotations

import errno
import io
from datetime import datetime

from django.core.exceptions import SuspiciousFileOperation

__all__ = [
    "BucketChangedError",
    "BucketTouchedError",
    "HTTPOriginError",
    "LayerUnreachableError",
    "NoLocalPath",
    "OperationNotImplemented",
    "OriginForbiddenError",
    "OriginTimeoutError",
    "OriginUnreachableError",
    "PullInterrupted",
    "PullUsageError",
    "ReadOnlyFileError",
    "ReadOnlyStorageError",
    "StorageTouchedError",
    "SuspiciousFileName",
]


class ReadOnlyStorageError(PermissionError):
    """A write was refused because the storage it would reach is read-only.

    ``operation`` names what was refused (``"save"``, ``"delete"``,
    ``"open (mode 'wb')"``, ``"post_process()"``, an S3 operation such as
    ``"PutObject"``), ``name`` the file or key (``None`` when unknown),
    ``backend`` a description of the protected backend and ``bucket`` the
    bucket or container a cloud guard refused a request to (else ``None``).
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        name: str | None,
        backend: str,
        bucket: str | None = None,
    ) -> None:
        super().__init__(errno.EACCES, message)
        self.operation = operation
        self.name = name
        self.backend = backend
        self.bucket = bucket

    def __str__(self) -> str:
        return str(self.strerror)


class ReadOnlyFileError(ReadOnlyStorageError, io.UnsupportedOperation):
    """A write to a file :class:`~fallback_storage.readonly.ReadOnlyStorage` opened for reading.

    Also an :class:`io.UnsupportedOperation`, what a file opened ``"rb"``
    raises on ``write()``.
    """


class OperationNotImplemented(AttributeError, NotImplementedError):
    """No backend of a :class:`~fallback_storage.storage.FallbackStorage` implements a method."""


class LayerUnreachableError(ConnectionError):
    """A layer was not asked because it could not be reached a moment ago.

    ``layer`` names it (``backend 1 (ReadOnlyStorage(S3Storage))``) and
    ``retry_at`` is the local time after which it is asked again; see
    :mod:`fallback_storage.outages`.
    """

    def __init__(self, message: str, *, layer: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.layer = layer
        self.retry_at = retry_at


class NoLocalPath(NotImplementedError):
    """``path()`` of a file only a layer without local paths has, which could not be copied.

    A :class:`NotImplementedError`, which is what Django code calling
    ``storage.path()`` already catches for storages without local paths.
    """


class BucketTouchedError(AssertionError):
    """A test guard saw requests that are not reads reach what it guards.

    Raised by :class:`~fallback_storage.testing.BucketGuard` (S3),
    :class:`~fallback_storage.cloud_testing.AzureContainerGuard` and
    :class:`~fallback_storage.cloud_testing.GCSBucketGuard`. ``requests`` holds them,
    as :class:`~fallback_storage.testing.S3Request` or
    :class:`~fallback_storage.cloud_testing.ContainerRequest` objects.
    """

    def __init__(self, message: str, *, requests: tuple[object, ...]) -> None:
        super().__init__(message)
        self.requests = requests


class BucketChangedError(AssertionError):
    """A bucket listing differs from its :class:`~fallback_storage.testing.BucketSnapshot`.

    ``differences`` holds one line per added, removed or changed key.
    """

    def __init__(self, message: str, *, differences: tuple[str, ...]) -> None:
        super().__init__(message)
        self.differences = differences


class SuspiciousFileName(SuspiciousFileOperation, ValueError):
    """A file name was refused before any backend saw it (NUL byte, ``..``, absolute path).

    It is a :class:`~django.core.exceptions.SuspiciousFileOperation`, so
    Django answers a request that triggers it with a 400, as it does for
    ``FileSystemStorage``'s own path traversal errors, and a :class:`ValueError`,
    which ``FileSystemStorage`` raises for a NUL byte.
    """


class HTTPOriginError(OSError):
    """An HTTP(S) origin of :class:`~fallback_storage.http.HTTPStorage` gave no usable answer.

    Raised as it is for an unexpected status (a 500, too many redirects, a body
    cut short); its subclasses say the origin could not be reached, did not
    answer in time, or refused the credentials. ``layer`` names the storage
    (its class and base URL), ``url`` the URL asked and ``status`` the HTTP
    status of the last answer (``None`` when none arrived).
    """

    def __init__(
        self, message: str, *, layer: str = "", url: str = "", status: int | None = None
    ) -> None:
        # Defaults only so that pickling (which passes the message alone, then restores
        # the attributes) works; the package always gives all three.
        super().__init__(message)
        self.layer = layer
        self.url = url
        self.status = status


class OriginUnreachableError(HTTPOriginError, ConnectionError):
    """The origin could not be connected to, or the connection broke (refused, reset, TLS)."""


class OriginTimeoutError(HTTPOriginError, TimeoutError):
    """The origin accepted no connection, or sent nothing, within the storage's ``timeout``."""


class OriginForbiddenError(HTTPOriginError, PermissionError):
    """The origin answered 401 or 403: the storage's credentials are missing or refused."""


class StorageTouchedError(AssertionError):
    """A :class:`~fallback_storage.storage_guard.StorageGuard` saw writes reach its storage.

    ``writes`` holds them, as :class:`~fallback_storage.storage_guard.StorageWrite`
    objects (S3 requests of a guarded bucket included).
    """

    def __init__(self, message: str, *, writes: tuple[object, ...]) -> None:
        super().__init__(message)
        self.writes = writes


class PullUsageError(ValueError):
    """``fallback_storage pull`` was asked for something it cannot pull.

    A malformed name, pattern, ``--model`` or ``--filter``, a model or field
    that does not exist, or a storage with no writable or no lower layer.
    ``manage.py fallback_storage pull`` reports it and exits with 2.
    """


class PullInterrupted(KeyboardInterrupt):
    """A pull was interrupted (Ctrl+C); the copies under way were abandoned, none left partial.

    ``summary`` is the :class:`~fallback_storage.pull_outcomes.Summary` of the files
    finished before the interruption.
    """

    def __init__(self, summary: object) -> None:
        super().__init__("the pull was interrupted")
        self.summary = summary
