"""Copy one file from a storage into another under the same name, streamed.

Used wherever the package brings a lower layer's file into the writable layer:
copy-on-read, ``path()`` of a file only a lower layer has, and
``manage.py fallback_storage pull``. The file is never read whole into memory:
it goes through in :data:`CHUNK_SIZE` pieces. :func:`open_stream` opens the
source for that one pass: a django-storages ``S3Storage`` (also inside a
:class:`~fallback_storage.readonly.ReadOnlyStorage`) with a single ``GET``
whose body is read as it arrives, since its own ``open()`` makes two ``HEAD``
requests and downloads the whole object into a ``SpooledTemporaryFile``
(held in memory unless ``AWS_S3_MAX_MEMORY_SIZE`` is set) before the first
byte can be read; any other storage with ``open(name, "rb")``.

Into a local :class:`~django.core.files.storage.FileSystemStorage` the bytes
are written to a hidden temporary file beside the final one and linked into
place once complete, so a reader never sees part of a file, an interrupted
copy leaves nothing under the final name, and a file that appeared under that
name meanwhile is never replaced. Into any other storage the file is written
with the storage's own ``_save()`` and deleted again if the copy fails.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gzip
import os
import tempfile
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage

from fallback_storage import s3_guard
from fallback_storage.name_checks import check_name
from fallback_storage.readonly import ReadOnlyStorage

__all__ = ["CHUNK_SIZE", "Stream", "copy_file", "copy_handle", "open_stream", "prepare_source"]

#: Bytes read and written at a time.
CHUNK_SIZE = 64 * 1024
_PARTIAL_PREFIX = ".fallback-storage-partial-"

Progress = Callable[[int], object]

_clients: weakref.WeakKeyDictionary[Any, tuple[Any, bool]] = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def copy_file(
    source: Storage, name: str, target: Storage, *, progress: Progress | None = None
) -> int:
    """Copy ``name`` from ``source`` into ``target`` under exactly ``name``; return the bytes.

    Raises :class:`FileExistsError` when ``target`` got a file of that name
    while the copy ran (the other file is left alone), and whatever
    ``source.open()`` raises when the file cannot be read.
    """
    with open_stream(source, name) as stream:
        return copy_handle(stream, name, target, progress=progress)


class Stream:
    """A file opened for one pass of reading: ``read(size)``, ``size`` (None if unknown), close.

    A context manager; closing it closes the underlying handle.
    """

    def __init__(self, handle: Any, size: int | None) -> None:
        self.handle = handle
        self.size = size

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self.handle.read(size)
        return chunk

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.close()


def open_stream(source: Storage, name: str) -> Stream:
    """Open ``name`` of ``source`` for reading once, front to back, never whole in memory.

    Raises :class:`FileNotFoundError` when ``source`` has no such file (for an
    S3 backend, a 404; a 403 too when a ``ReadOnlyStorage`` around it has
    ``forbidden_as_missing`` on), and whatever else the storage raises.
    """
    backend, forbidden_as_missing = _unwrap_read_only(source)
    if backend is not source:
        check_name(name, "open", "ReadOnlyStorage")
    if s3_guard.is_s3_storage(backend):
        return _open_s3(backend, name, forbidden_as_missing)
    handle = source.open(name, "rb")
    try:
        size: int | None = handle.size
    except (AttributeError, OSError, ValueError):
        size = None
    return Stream(handle, size)


def prepare_source(source: Storage) -> None:
    """Make, in this thread, what :func:`open_stream` shares between threads for ``source``.

    For an S3 backend that is its client: calling this where the storage was
    used already (after a listing, say) saves each worker thread from
    building a boto3 resource of its own.
    """
    backend = _unwrap_read_only(source)[0]
    if s3_guard.is_s3_storage(backend):
        _client(backend)


def _unwrap_read_only(source: Storage) -> tuple[Storage, bool]:
    backend, forbidden_as_missing = source, False
    while isinstance(backend, ReadOnlyStorage):
        forbidden_as_missing = forbidden_as_missing or backend.forbidden_as_missing
        backend = backend.backend
    return backend, forbidden_as_missing


def _open_s3(storage: Any, name: str, forbidden_as_missing: bool) -> Stream:
    from botocore.exceptions import ClientError
    from s3transfer.constants import ALLOWED_DOWNLOAD_ARGS
    from storages.utils import clean_name

    # The key and download parameters exactly as S3Storage.open() computes them.
    key = storage._normalize_name(clean_name(name))
    parameters = {
        option: value
        for option, value in storage.get_object_parameters(name).items()
        if option in ALLOWED_DOWNLOAD_ARGS
    }
    client = _client(storage)
    try:
        response = client.get_object(Bucket=storage.bucket_name, Key=key, **parameters)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.response.get("Error", {}).get("Code")
        forbidden = status == 403 or code in {"403", "AccessDenied", "Forbidden"}
        if status == 404 or code in {"404", "NoSuchKey"} or (forbidden and forbidden_as_missing):
            raise FileNotFoundError(
                errno.ENOENT, f"s3://{storage.bucket_name}/{key} does not exist", name
            ) from error
        raise
    body = response["Body"]
    if storage.gzip and response.get("ContentEncoding") == "gzip":
        # S3Storage.open() serves such an object decompressed; so does this.
        return Stream(_Gunzipped(body), None)
    size = response.get("ContentLength")
    return Stream(body, size if isinstance(size, int) else None)


def _client(storage: Any) -> Any:
    """The storage's own boto3 client, created once and shared by every thread.

    ``S3Storage.connection`` builds a boto3 resource per thread, which takes
    longer than downloading a small file; a botocore client is thread-safe, so
    one serves every copy. It is the storage's own, so the S3 guard of a
    protected storage is on it; one made before the storage was protected is
    replaced.
    """
    protected = s3_guard.is_protected(storage)
    with _clients_lock:
        cached = _clients.get(storage)
        if cached is None or cached[1] != protected:
            cached = (storage.connection.meta.client, protected)
            _clients[storage] = cached
    return cached[0]


class _Gunzipped:
    def __init__(self, body: Any) -> None:
        self.body = body
        self.file = gzip.GzipFile(mode="rb", fileobj=body)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def close(self) -> None:
        self.file.close()
        self.body.close()


def copy_handle(
    handle: File[Any] | Any, name: str, target: Storage, *, progress: Progress | None = None
) -> int:
    """Copy what is left to read in the open ``handle`` into ``target`` as ``name``."""
    if _writes_files_itself(target):
        return _copy_into_directory(handle, name, target, progress)  # type: ignore[arg-type]
    counted = _Counting(handle, progress)
    try:
        saved: str = target._save(name, File(counted, name))  # type: ignore[attr-defined,arg-type]
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
    return (
        isinstance(target, FileSystemStorage) and type(target)._save is FileSystemStorage._save  # type: ignore[attr-defined]
    )


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
        os.chmod(partial, 0o666 & ~_umask() if mode is None else mode)
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
    # One directory at a time, each chmod()ed, instead of changing the umask around
    # makedirs(): the umask is the whole process's, and pull copies in several threads.
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        os.chmod(path, mode)


@functools.cache
def _umask() -> int:
    # Reading the umask means setting it; done once, so that no copy running in
    # another thread creates a file while it is briefly 0.
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


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
