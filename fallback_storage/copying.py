"""Copy one file from a storage into another under the same name, streamed.

Used wherever the package brings a lower layer's file into the writable layer:
copy-on-read, ``path()`` of a file only a lower layer has, and
``manage.py fallback_storage pull``. The file is never read whole into memory:
it goes through in :data:`CHUNK_SIZE` pieces.

Into a local :class:`~django.core.files.storage.FileSystemStorage` the bytes
are written to a hidden temporary file beside the final one and linked into
place once complete, so a reader never sees part of a file, an interrupted
copy leaves nothing under the final name, and a file that appeared under that
name meanwhile is never replaced. Into any other storage the file is written
with the storage's own ``_save()`` and deleted again if the copy fails.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import Any

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage

__all__ = ["CHUNK_SIZE", "copy_file", "copy_handle"]

#: Bytes read and written at a time.
CHUNK_SIZE = 64 * 1024
_PARTIAL_PREFIX = ".fallback-storage-partial-"

Progress = Callable[[int], object]


def copy_file(
    source: Storage, name: str, target: Storage, *, progress: Progress | None = None
) -> int:
    """Copy ``name`` from ``source`` into ``target`` under exactly ``name``; return the bytes.

    Raises :class:`FileExistsError` when ``target`` got a file of that name
    while the copy ran (the other file is left alone), and whatever
    ``source.open()`` raises when the file cannot be read.
    """
    with source.open(name, "rb") as handle:
        return copy_handle(handle, name, target, progress=progress)


def copy_handle(
    handle: File[Any] | Any, name: str, target: Storage, *, progress: Progress | None = None
) -> int:
    """Copy what is left to read in the open ``handle`` into ``target`` as ``name``."""
    if _writes_files_itself(target):
        return _copy_into_directory(handle, name, target, progress)  # type: ignore[arg-type]
    counted = _Counting(handle, progress)
    try:
        saved: str = target._save(name, File(counted, name))  # type: ignore[attr-defined]
    except BaseException:
        # Whatever part of the file got written must not pass for the file.
        with contextlib.suppress(Exception):
            target.delete(name)
        raise
    if saved != name:
        with contextlib.suppress(FileNotFoundError):
            target.delete(saved)
        raise FileExistsError(f"{name!r} was created in {type(target).__qualname__} meanwhile")
    return counted.copied


def _writes_files_itself(target: Storage) -> bool:
    # A FileSystemStorage whose _save is Django's own, so writing its files
    # directly gives the same result; a subclass with its own _save keeps it.
    return isinstance(target, FileSystemStorage) and type(target)._save is FileSystemStorage._save


def _copy_into_directory(
    handle: Any, name: str, target: FileSystemStorage, progress: Progress | None
) -> int:
    final = target.path(name)
    directory = os.path.dirname(final)
    _make_directories(target, directory)
    descriptor, partial = tempfile.mkstemp(dir=directory, prefix=_PARTIAL_PREFIX)
    copied = 0
    try:
        with os.fdopen(descriptor, "wb") as output:
            while chunk := handle.read(CHUNK_SIZE):
                output.write(chunk)
                copied += len(chunk)
                if progress is not None:
                    progress(len(chunk))
        mode = target.file_permissions_mode
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(partial, mode)
        # link() refuses to replace a file that appeared meanwhile; rename() would not.
        os.link(partial, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    return copied


def _make_directories(target: FileSystemStorage, directory: str) -> None:
    mode = target.directory_permissions_mode
    if mode is None:
        os.makedirs(directory, exist_ok=True)
        return
    old_umask = os.umask(0o777 & ~mode)
    try:
        os.makedirs(directory, mode, exist_ok=True)
    finally:
        os.umask(old_umask)


class _Counting:
    """A read-only stream over ``handle`` that counts (and reports) the bytes read."""

    def __init__(self, handle: Any, progress: Progress | None) -> None:
        self.handle = handle
        self.progress = progress
        self.copied = 0

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self.handle.read(size)
        self.copied += len(chunk)
        if chunk and self.progress is not None:
            self.progress(len(chunk))
        return chunk

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.handle, attribute)
