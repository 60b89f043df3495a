"""Choose the one exception to raise when every backend failed an operation.

The rules: one failure is re-raised as it is; when every backend reported
the file missing, the caller gets a :class:`FileNotFoundError`; otherwise the
most informative failure wins (a real error over "missing", "missing" over a
read-only refusal). Whatever is raised carries a note for every backend's
failure, so no layer's error is hidden.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import NamedTuple

from django.core.files.storage import Storage

from fallback_storage.exceptions import ReadOnlyStorageError

__all__ = ["Failure", "add_note", "combine", "is_missing", "layer"]


class Failure(NamedTuple):
    position: int
    backend: Storage
    error: Exception


def layer(index: int, backend: object) -> str:
    """How messages name a backend: its position and class, and what a wrapper wraps.

    ``backend 1 (ReadOnlyStorage(S3Storage))`` tells which layer failed even
    when the failing one sits inside a :class:`ReadOnlyStorage`.
    """
    name = type(backend).__qualname__
    wrapped = getattr(backend, "_built", None) if hasattr(backend, "_entry") else None
    if wrapped is not None:
        name = f"{name}({type(wrapped).__qualname__})"
    return f"backend {index} ({name})"


def add_note(error: BaseException, note: str) -> None:
    """Attach ``note`` to ``error`` (``add_note`` is Python 3.11+)."""
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        notes = list(getattr(error, "__notes__", []))
        notes.append(note)
        error.__notes__ = notes  # type: ignore[attr-defined]


def is_missing(error: BaseException) -> bool:
    """Whether ``error`` says the file does not exist (locally or as an S3 404).

    A name the layer cannot hold counts as missing there too: one too long for
    its file system, one it cannot encode (a lone surrogate in an S3 key).
    """
    if isinstance(error, (FileNotFoundError, UnicodeEncodeError)):
        return True
    if isinstance(error, OSError) and error.errno == errno.ENAMETOOLONG:
        return True
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
        return status == 404 or code in {"404", "NoSuchKey", "NotFound"}
    return False


def _rank(error: Exception) -> int:
    if isinstance(error, ReadOnlyStorageError):
        return 0
    if is_missing(error):
        return 1
    return 2


def combine(
    failures: Sequence[Failure], operation: str, name: str | None, *, read: bool = True
) -> Exception:
    """The exception to raise for ``operation`` after every failure in ``failures``.

    For a read (``read``), layers that all say the file is missing, however
    each says it (an S3 404, a name too long for a file system), give a
    :class:`FileNotFoundError`; a write keeps the layer's own error.
    """
    missing = read and all(is_missing(failure.error) for failure in failures)
    if len(failures) == 1 and not (
        missing and not isinstance(failures[0].error, FileNotFoundError)
    ):
        only = failures[0]
        add_note(only.error, f"{operation}() failed in {layer(only.position, only.backend)}.")
        return only.error
    chosen = max(failures, key=lambda failure: _rank(failure.error))
    error = chosen.error
    if missing and not isinstance(error, FileNotFoundError):
        error = FileNotFoundError(errno.ENOENT, f"{name!r} is in no backend", name)
    for failure in failures:
        add_note(
            error,
            f"{operation}() failed in {layer(failure.position, failure.backend)}: "
            f"{type(failure.error).__name__}: {failure.error}",
        )
    return error
