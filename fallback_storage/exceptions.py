"""Every exception the package raises of its own.

Each one subclasses the builtin that callers already catch: a refused write
is a :class:`PermissionError`, a method no backend implements is both an
:class:`AttributeError` (the 1.x contract) and a :class:`NotImplementedError`
(what Django code probes for, e.g. ``storage.path()`` in collectstatic).
Configuration errors are Django's own
:class:`~django.core.exceptions.ImproperlyConfigured`.
"""

from __future__ import annotations

import errno
import io

from django.core.exceptions import SuspiciousFileOperation

__all__ = [
    "BucketChangedError",
    "BucketTouchedError",
    "OperationNotImplemented",
    "ReadOnlyFileError",
    "ReadOnlyStorageError",
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


class BucketTouchedError(AssertionError):
    """A :class:`~fallback_storage.testing.BucketGuard` saw S3 requests that are not reads.

    ``requests`` holds them, as :class:`~fallback_storage.testing.S3Request` objects.
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
