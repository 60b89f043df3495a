"""Files a ReadOnlyStorage opens read like the backend's and never write, for every backend.

Django's InMemoryStorage hands out the stored file node itself, so its handle's write() would
change the stored file; FileSystemStorage and S3Storage give handles on a file opened for
reading. The ground truth is the stored content, read back around the wrapper.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.images import get_image_dimensions
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage
from PIL import Image

from fallback_storage import FallbackStorage, ReadOnlyStorage, ReadOnlyStorageError
from fallback_storage.exceptions import ReadOnlyFileError
from fallback_storage.read_only_files import ReadOnlyFile

TEXT = b"first line\nsecond line\nthird line\n"


def png(width: int = 3, height: int = 2) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(params=["memory", "filesystem"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    storage: Storage = (
        InMemoryStorage() if request.param == "memory" else FileSystemStorage(str(tmp_path))
    )
    storage.save("a.txt", ContentFile(TEXT))
    storage.save("image.png", ContentFile(png()))
    return storage


def stored(storage: Storage, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data


WRITES: dict[str, Callable[[Any], object]] = {
    "write()": lambda f: f.write(b"changed"),
    "writelines()": lambda f: f.writelines([b"changed"]),
    "truncate()": lambda f: f.truncate(0),
    "file.write()": lambda f: f.file.write(b"changed"),
    "file.truncate()": lambda f: f.file.truncate(0),
    "file.writelines()": lambda f: f.file.writelines([b"changed"]),
    "open (mode 'wb')": lambda f: f.open("wb"),
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_a_read_handle_refuses_writes_like_a_file_opened_rb(backend: Storage, write: str) -> None:
    handle = ReadOnlyStorage(backend).open("a.txt", "rb")
    with pytest.raises(ReadOnlyFileError) as caught:
        WRITES[write](handle)
    # What a file opened "rb" raises, and what a refused write of this package is.
    assert isinstance(caught.value, io.UnsupportedOperation)
    assert isinstance(caught.value, ReadOnlyStorageError)
    operation = write.removeprefix("file.")
    assert str(caught.value) == (
        f"{operation} on 'a.txt' was refused; ReadOnlyStorage opened it from "
        f"{type(backend).__qualname__} for reading only, so write the file through a writable "
        f"backend beside it in FallbackStorage instead."
    )
    assert (caught.value.operation, caught.value.name) == (operation, "a.txt")
    handle.close()
    assert stored(backend, "a.txt") == TEXT


def test_a_read_handle_reads_seeks_and_iterates(backend: Storage) -> None:
    with ReadOnlyStorage(backend).open("a.txt", "rb") as handle:
        assert isinstance(handle, ReadOnlyFile)
        assert handle.readable() and handle.seekable() and not handle.writable()
        view: Any = handle.file
        assert view.readable() and not view.writable()
        assert handle.name is not None and handle.name.endswith("a.txt")
        assert handle.mode == "rb"
        assert handle.size == len(TEXT)
        assert handle.read(5) == b"first"
        assert handle.tell() == 5
        handle.seek(0)
        assert handle.readline() == b"first line\n"
        assert handle.readlines() == [b"second line\n", b"third line\n"]
        assert list(handle) == TEXT.splitlines(keepends=True)
        assert b"".join(handle.chunks(chunk_size=4)) == TEXT
        buffer = bytearray(5)
        handle.seek(0)
        assert handle.readinto(buffer) == 5 and bytes(buffer) == b"first"
        handle.flush()  # nothing to flush
        assert not handle.isatty()
        if isinstance(backend, FileSystemStorage):  # a real file, opened for reading
            assert isinstance(handle.fileno(), int)
        else:
            with pytest.raises(io.UnsupportedOperation):
                handle.fileno()  # a BytesIO has none
        assert not handle.closed
    # Closed as the backend closes: InMemoryStorage's ContentFile never does.
    assert handle.closed is isinstance(backend, FileSystemStorage)


def test_a_text_handle_reads_text(backend: Storage) -> None:
    with ReadOnlyStorage(backend).open("a.txt", "r") as handle:
        assert handle.read() == TEXT.decode()
        with pytest.raises(io.UnsupportedOperation):
            handle.write("changed")
    assert stored(backend, "a.txt") == TEXT


def test_a_read_handle_reopens_for_reading_only(backend: Storage) -> None:
    handle = ReadOnlyStorage(backend).open("a.txt", "rb")
    handle.read()
    assert handle.open() is handle
    assert handle.read(5) == b"first"  # reopening an open handle rewinds it
    handle.close()
    if isinstance(backend, FileSystemStorage):  # a closed file of the disk reopens
        with handle.open("rb"):
            assert handle.read() == TEXT
    with pytest.raises(ReadOnlyFileError):
        handle.open("r+b")
    assert stored(backend, "a.txt") == TEXT


def test_pillow_and_django_read_an_image_through_the_handle(backend: Storage) -> None:
    storage = FallbackStorage(backends=[InMemoryStorage(), ReadOnlyStorage(backend)])
    with storage.open("image.png", "rb") as handle:
        assert isinstance(handle, ReadOnlyFile)
        with Image.open(handle) as image:
            image.load()
            assert image.size == (3, 2)
            assert image.getpixel((0, 0)) == (255, 0, 0)
        assert get_image_dimensions(handle) == (3, 2)
    assert stored(backend, "image.png") == png()


def test_a_read_handle_of_an_in_memory_file_leaves_the_stored_file_alone() -> None:
    memory = InMemoryStorage()
    memory.save("a.txt", ContentFile(b"original"))
    # Unwrapped, the handle is the stored node: a write through it changes the file.
    with memory.open("a.txt", "rb") as raw:
        raw.write(b"CHANGED!")
    assert stored(memory, "a.txt") == b"CHANGED!"
    with ReadOnlyStorage(memory).open("a.txt", "rb") as handle, pytest.raises(ReadOnlyFileError):
        handle.write(b"again!!!")
    assert stored(memory, "a.txt") == b"CHANGED!"
