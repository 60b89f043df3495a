"""How FallbackStorage chooses the name of a new file.

A new file must not shadow a file that lives only in a later backend, so a
name is free only when no backend has it; alternatives follow the naming rule
of the backend that receives the write. Names handed out are reserved until
the save that asked for them is done, so two concurrent saves never get the
same one.
"""

from __future__ import annotations

import logging
import os
import pathlib
import threading
from typing import TYPE_CHECKING, Any

from django.core.exceptions import SuspiciousFileOperation, SuspiciousOperation
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name

from fallback_storage.failures import add_note, layer
from fallback_storage.name_checks import check_name

__all__ = ["NameChoice"]

logger = logging.getLogger(__name__)


class NameChoice(Storage):
    """The name-choosing half of :class:`~fallback_storage.storage.FallbackStorage`."""

    if TYPE_CHECKING:

        def _layers(self, name: str | None) -> tuple[Storage, ...]: ...

        def _write_target(self) -> Storage: ...

    def _start_reservations(self) -> None:
        # Names handed out by get_available_name() to saves still in progress,
        # so two concurrent saves never get the same name from a write target
        # that overwrites on _save() (InMemoryStorage, S3Storage).
        self._reserved: set[str] = set()
        self._reservation_lock = threading.Lock()
        self._saving = threading.local()

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        """Whether ``name`` can be written without replacing a file of any backend.

        It agrees with :meth:`get_available_name`: a name is available when no
        backend has it (and it fits ``max_length``), or when the backend that
        will receive the write overwrites files.
        """
        target = self._write_target()
        if _overwrites(target):
            return not (max_length and len(name) > max_length)
        return not (max_length and len(name) > max_length) and not self.exists(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """A name that is free in every backend, so a new file never shadows an old one.

        Alternatives follow the naming rule of the backend that will receive
        the write (the first writable one). When that backend overwrites
        files, its own answer is returned and the name is kept.
        """
        target = self._write_target()
        if _overwrites(target):
            return target.get_available_name(name, max_length=max_length)
        name = str(name).replace("\\", "/")
        directory, file_name = os.path.split(name)
        if ".." in pathlib.PurePath(directory).parts:
            raise SuspiciousFileOperation(f"Detected path traversal attempt in {directory!r}")
        validate_file_name(file_name)
        check_name(name, "get_available_name", "FallbackStorage")
        extension = "".join(pathlib.PurePath(file_name).suffixes)
        root = file_name[: len(file_name) - len(extension)]
        renamed = False
        while not self._can_take(name, max_length, renamed):
            renamed = True
            name = os.path.join(directory, target.get_alternative_name(root, extension))
            if max_length is not None and len(name) > max_length:
                root = root[: len(root) - (len(name) - max_length)]
                if not root:
                    raise SuspiciousFileOperation(
                        f"No free name for {name!r} fits max_length={max_length}; "
                        f"allow a longer max_length on the file field."
                    )
                name = os.path.join(directory, target.get_alternative_name(root, extension))
        return name

    def _can_take(self, name: str, max_length: int | None, renamed: bool) -> bool:
        # Like is_name_available(), but a read-only backend that cannot answer
        # (production down, throttled, forbidden) does not stop a local write:
        # its answer is unknown, so the name given is not taken as it is, in
        # case it exists there, and the first alternative name (which carries a
        # random suffix in Django's rule) is.
        if max_length and len(name) > max_length:
            return False
        # Claim the name before looking for it: a save that held it has written
        # its file before letting it go, so the look below then finds the file.
        if not self._reserve(name):
            return False
        try:
            free = self._free(name, renamed)
        except BaseException:
            self._release(name)
            raise
        if not free:
            self._release(name)
        return free

    def _free(self, name: str, renamed: bool) -> bool:
        unknown = False
        for index, backend in enumerate(self._layers(name)):
            try:
                if backend.exists(name):
                    return False
            except SuspiciousOperation:
                raise
            except NotImplementedError:
                continue
            except Exception as error:
                if getattr(backend, "read_only", False) is not True:
                    add_note(error, f"exists() failed in {layer(index, backend)}.")
                    raise
                logger.warning(
                    "FallbackStorage could not tell whether %r exists in %s (%s: %s); "
                    "choosing a name that cannot clash with it.",
                    name,
                    layer(index, backend),
                    type(error).__name__,
                    error,
                )
                unknown = True
        return not (unknown and not renamed)

    def _reserve(self, name: str) -> bool:
        """Claim ``name`` for the save running in this thread; False if another save has it."""
        with self._reservation_lock:
            if name in self._reserved:
                return False
            claimed: list[str] | None = getattr(self._saving, "claimed", None)
            if claimed is not None:
                self._reserved.add(name)
                claimed.append(name)
            return True

    def _release(self, name: str) -> None:
        claimed: list[str] | None = getattr(self._saving, "claimed", None)
        if claimed is not None and name in claimed:
            with self._reservation_lock:
                self._reserved.discard(name)
            claimed.remove(name)

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Save ``content`` under a free name, holding that name until the write is done."""
        self._saving.claimed = []
        try:
            return super().save(name, content, max_length=max_length)
        finally:
            with self._reservation_lock:
                self._reserved.difference_update(self._saving.claimed)
            self._saving.claimed = None


def _overwrites(storage: Storage) -> bool:
    """Whether ``storage`` replaces an existing file on save instead of renaming."""
    return (
        getattr(storage, "_allow_overwrite", False) is True
        or getattr(storage, "file_overwrite", False) is True
    )
