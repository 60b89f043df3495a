"""Reject file names that no backend should ever be asked about.

:class:`~fallback_storage.storage.FallbackStorage` and
:class:`~fallback_storage.storage.ReadOnlyStorage` check every name they are
given before any backend sees it, so the answer does not depend on the order
of the backends: a name that the first backend would reject as suspicious
cannot fall through to the next one (a production bucket, say), and a name
that one backend takes (``InMemoryStorage`` and S3 accept a NUL byte) and
another refuses (``FileSystemStorage`` raises :class:`ValueError`) is refused
once, by the package, with one error.
"""

from __future__ import annotations

import pathlib

from fallback_storage.exceptions import SuspiciousFileName

__all__ = ["check_name"]


def check_name(name: object, operation: str, storage: str) -> None:
    """Raise :class:`~fallback_storage.exceptions.SuspiciousFileName` for a bad ``name``.

    A name is bad when it has a NUL byte or escapes the storage. It escapes
    when it is absolute or has a ``..`` segment; backslashes count as
    separators, as in Django's ``validate_file_name``. Names that are not
    strings (``url(None)``) are left to the backends.
    """
    if not isinstance(name, str):
        return
    if "\x00" in name:
        raise SuspiciousFileName(
            f"{storage} refused the file name {name!r} in {operation}(): it contains a NUL "
            f"byte, which no file system can store; remove it from the name."
        )
    if ".." not in name and not name.startswith(("/", "\\")):
        return  # neither absolute nor with a '..' segment; skips a costly PurePosixPath
    path = pathlib.PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise SuspiciousFileName(
            f"{storage} refused the file name {name!r} in {operation}(): it is absolute or "
            f"has a '..' segment (a path traversal attempt); use a name relative to the storage."
        )
