"""The files :class:`~fallback_storage.readonly.ReadOnlyStorage` hands out: they read, never write.

Some backends give out a handle on the stored file itself: Django's
``InMemoryStorage.open(name, "rb")`` returns the file node, whose ``write()``
changes what is stored. :class:`ReadOnlyFile` wraps whatever the backend
returned: reading, seeking, iterating and ``chunks()`` work as they did (Pillow
and Django's image handling read through it), while ``write()``,
``writelines()`` and ``truncate()`` raise
:class:`~fallback_storage.exceptions.ReadOnlyFileError`, an
:class:`io.UnsupportedOperation` as from a file opened ``"rb"``, and reopening
it for writing is refused. Its ``file`` attribute is a read-only view as well,
not the backend's file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, NoReturn, cast

from django.core.files.base import File

from fallback_storage.exceptions import ReadOnlyFileError
from fallback_storage.method_kinds import is_write_mode

__all__ = ["ReadOnlyFile"]


class _Refuser:
    """Raises the refusal of a write to one file."""

    def __init__(self, name: str | None, backend: str) -> None:
        self.name = name
        self.backend = backend

    def __call__(self, operation: str) -> NoReturn:
        raise ReadOnlyFileError(
            f"{operation} on {self.name!r} was refused; ReadOnlyStorage opened it from "
            f"{self.backend} for reading only, so write the file through a writable backend "
            f"beside it in FallbackStorage instead.",
            operation=operation,
            name=self.name,
            backend=self.backend,
        )


class _ReadOnlyStream:
    """The reading half of the file protocol over the backend's file."""

    def __init__(self, source: File[Any], refuse: _Refuser) -> None:
        self._source = source
        self._refuse = refuse

    name = property(lambda self: getattr(self._source, "name", self._refuse.name))
    mode = property(lambda self: getattr(self._source, "mode", "rb"))
    closed = property(lambda self: self._source.closed)
    size = property(lambda self: self._source.size)
    encoding = property(lambda self: getattr(self._source.file, "encoding", None))
    newlines = property(lambda self: getattr(self._source.file, "newlines", None))

    def read(self, *args: Any) -> Any:
        return self._source.read(*args)

    def readinto(self, buffer: Any) -> Any:
        return self._source.readinto(buffer)

    def readline(self, *args: Any) -> Any:
        return self._source.readline(*args)

    def readlines(self, *args: Any) -> Any:
        return self._source.readlines(*args)

    def seek(self, *args: Any) -> int:
        return int(self._source.seek(*args))

    def tell(self) -> int:
        return int(self._source.tell())

    def readable(self) -> bool:
        return self._source.readable()

    def seekable(self) -> bool:
        return self._source.seekable()

    def writable(self) -> bool:
        return False

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self._source.fileno())

    def flush(self) -> None:
        """Nothing to flush: nothing was written."""

    def close(self) -> None:
        self._source.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._source)

    def write(self, *_: Any) -> NoReturn:
        self._refuse("write()")

    def writelines(self, *_: Any) -> NoReturn:
        self._refuse("writelines()")

    def truncate(self, *_: Any) -> NoReturn:
        self._refuse("truncate()")


class ReadOnlyFile(File):  # type: ignore[type-arg]
    """A backend's file, opened for reading: it reads like the original and refuses writes.

    Refusals name the file ``name`` (the name it was opened by; default: the
    backend file's) in the ``backend``.
    """

    def __init__(self, source: File[Any], *, backend: str, name: str | None = None) -> None:
        # Django 4.2's InMemoryStorage hands out files with no name: they go by the name opened.
        own_name = getattr(source, "name", None)
        self._refuse = _Refuser(own_name if name is None else name, backend)
        stream = cast("IO[Any]", _ReadOnlyStream(source, self._refuse))
        super().__init__(stream, name=self._refuse.name if own_name is None else own_name)
        self.mode = getattr(source, "mode", "rb")
        self._source = source

    def write(self, *_: Any) -> NoReturn:
        self._refuse("write()")

    def writelines(self, *_: Any) -> NoReturn:
        self._refuse("writelines()")

    def truncate(self, *_: Any) -> NoReturn:
        self._refuse("truncate()")

    def writable(self) -> bool:
        return False

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> ReadOnlyFile:
        """Rewind, or reopen the backend's file for reading; a mode that writes is refused."""
        if mode is not None and is_write_mode(mode):
            self._refuse(f"open (mode {mode!r})")
        if self.closed:
            self._source.open(mode or self.mode, *args, **kwargs)
        else:
            self.seek(0)
        return self
