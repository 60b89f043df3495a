"""The exception a read through ReadOnlyStorage raises, whatever the backend raised.

Django code catches :class:`FileNotFoundError` for a missing file, and
:class:`~django.core.exceptions.SuspiciousFileOperation` or :class:`ValueError`
for a name that cannot be a file. Backends say both in their own ways: an S3
404 is botocore's ``ClientError``, a name no S3 key can be raises
``UnicodeEncodeError``, an empty key ``ParamValidationError``.
:func:`read_error` turns each into the exception Django users expect, with the
backend's own error as a note, and applies ``forbidden_as_missing``.
"""

from __future__ import annotations

import errno

from django.core.files.storage import Storage

from fallback_storage import cloud_guards
from fallback_storage.exceptions import SuspiciousFileName
from fallback_storage.failures import add_note, is_missing

__all__ = ["is_forbidden", "read_error"]


def read_error(
    error: Exception, operation: str, name: str, backend: Storage, forbidden_as_missing: bool
) -> Exception:
    """The exception to raise for ``error``, raised by ``backend`` reading ``name``."""
    described = cloud_guards.describe(backend)
    if forbidden_as_missing and is_forbidden(error):
        missing = FileNotFoundError(
            errno.ENOENT,
            f"{type(backend).__qualname__} answered 403 Forbidden for {name!r}, counted as "
            f"missing because ReadOnlyStorage 'forbidden_as_missing' is True",
            name,
        )
        add_note(missing, f"The 403 was: {type(error).__name__}: {error}")
        return missing
    if type(error).__name__ == "ParamValidationError":
        return SuspiciousFileName(
            f"ReadOnlyStorage refused the file name {name!r} in {operation}(): {described} "
            f"cannot take it ({error}); use a name with at least one character."
        )
    if is_missing(error) and not isinstance(error, FileNotFoundError):
        missing = FileNotFoundError(errno.ENOENT, f"{name!r} is not in {described}", name)
        add_note(missing, f"{described} said: {type(error).__name__}: {error}")
        return missing
    return error


def is_forbidden(error: BaseException) -> bool:
    """Whether ``error`` is an HTTP 403 (or 401) from the backend.

    botocore's ``ClientError``, this package's ``HTTPOriginError`` (``status``),
    azure-core's ``HttpResponseError`` (``status_code``) and google-api-core's
    ``Forbidden`` (``code``).
    """
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
        return status == 403 or code in {"403", "AccessDenied", "Forbidden"}
    return any(
        getattr(error, attribute, None) in (401, 403)
        for attribute in ("status", "status_code", "code")
    )
