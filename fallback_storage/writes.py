"""Where writes go: the create and action rules of a FallbackStorage.

``save`` (and ``open`` in a writing mode) goes to the first backend that
accepts it, which is the writable layer unless that fails: a read-only layer
refuses, so the write falls through to the next writable one. The content is
rewound before each attempt, so no backend receives a file truncated by an
earlier one.

``delete`` follows the 1.x rule, the first backend that accepts the delete,
unless whiteouts are on (by default where a read-only layer sits below the
writable one): then the name is deleted from the writable layer and hidden in
the others (:mod:`fallback_storage.whiteouts`).

Whatever a write changes is told to the layers' rules
(:meth:`~fallback_storage.layers.Layers.changed`), so the location cache never
answers from before it.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.exceptions import SuspiciousOperation
from django.core.files.base import File

from fallback_storage import first_answer, lookup
from fallback_storage.copy_up import updates_in_place
from fallback_storage.exceptions import ReadOnlyStorageError
from fallback_storage.failures import Failure, add_note, combine
from fallback_storage.layers import Layers

__all__ = ["delete", "open_for_writing", "save"]


def save(layers: Layers, name: str, content: File[Any]) -> str:
    """Save ``content`` as ``name`` in the first backend that accepts it; the name it took."""
    whiteouts = layers.whiteouts
    if whiteouts is not None:
        whiteouts.refuse_reserved(name)
    failures: list[Failure] = []
    for index, backend in enumerate(layers.backends):
        # A refusal reads nothing, so after refusals only the content is still intact.
        refused = all(isinstance(failure.error, ReadOnlyStorageError) for failure in failures)
        if failures and not refused and not _rewind(content):
            add_note(
                failures[-1].error,
                "The content cannot be rewound, so no further backend was tried.",
            )
            break
        try:
            saved: str = backend._save(name, content)  # type: ignore[attr-defined]
        except SuspiciousOperation:
            raise
        except NotImplementedError:
            continue
        except Exception as error:
            failures.append(Failure(index, backend, error))
            continue
        layers.changed(name, saved)
        if whiteouts is not None:
            whiteouts.saved(saved)
        return saved
    if not failures:
        raise first_answer.not_implemented("_save", layers)
    raise combine(failures, "save", name, read=False)


def delete(layers: Layers, name: str) -> None:
    """Delete ``name``: hide it with a whiteout, or from the first backend that accepts."""
    try:
        if layers.whiteouts is None:
            first_answer.first(layers, "delete", name, name, read=False)
        elif layers.whiteouts.delete(name):
            layers.changed_many()
    finally:
        layers.changed(name)


def open_for_writing(layers: Layers, name: str, mode: str) -> File[Any]:
    """Open ``name`` in a mode that can write, in the first backend that accepts it.

    In an append or update mode, a file only a lower layer has is copied up
    first (when whiteouts or copy-on-read are on), so it keeps its bytes.
    """
    whiteouts = layers.whiteouts
    if whiteouts is not None:
        whiteouts.refuse_reserved(name)
    copy_up = layers.copy_up
    if copy_up.before_update and updates_in_place(mode):
        index = lookup.find(layers, name)
        if index is not None and index != layers.writable:
            source = layers.backends[index]
            copy_up.copy(source, layers.labels[index], name, f"before opening it as {mode!r}")
    try:
        handle: File[Any] = first_answer.first(layers, "open", name, name, mode, read=False)
    finally:
        layers.changed(name)
    if whiteouts is not None:
        whiteouts.saved(name)
    return handle


def _rewind(content: IO[Any] | File[Any]) -> bool:
    try:
        seekable = getattr(content, "seekable", None)
        if seekable is not None and not seekable():
            return False
        content.seek(0)
    except (AttributeError, OSError, ValueError):
        return False
    return True
