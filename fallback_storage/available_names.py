"""How FallbackStorage chooses the name of a new file.

A new file must not shadow a file that lives only in a later layer, so a name
is free only when no layer has it (a name a whiteout hides counts as free:
deleted means gone). The writable backend's own rule proposes the name
(``get_available_name()`` of the backend, which may be a subclass's own, such
as a Trac-style ``name.2.txt``); when another layer has that name,
alternatives follow the writable backend's ``get_alternative_name()`` until
one is free everywhere. Names handed out are reserved until the save that
asked for them is done, so two concurrent saves never get the same one.
"""

from __future__ import annotations

import os
import pathlib
import threading
from typing import TYPE_CHECKING, Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name

from fallback_storage import lookup
from fallback_storage.layers import Layers
from fallback_storage.name_checks import canonical_name

__all__ = ["NameChoice"]


class NameChoice(Storage):
    """The name-choosing half of :class:`~fallback_storage.storage.FallbackStorage`."""

    if TYPE_CHECKING:

        def _built_layers(self) -> Layers: ...

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
        if max_length and len(name) > max_length:
            return False
        return _overwrites(self._built_layers().target) or not self.exists(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """A name that is free in every backend, so a new file never shadows an old one.

        The backend that will receive the write (the first writable one)
        proposes it with its own ``get_available_name()``; when another backend
        has that name, alternatives follow its ``get_alternative_name()``. When
        that backend overwrites files, its own answer is returned as it is.
        """
        layers = self._built_layers()
        # Django's own checks first, with Django's words: "dir/" names no file.
        directory, file_name = os.path.split(os.fspath(name).replace("\\", "/"))
        if ".." in pathlib.PurePath(directory).parts:
            raise SuspiciousFileOperation(f"Detected path traversal attempt in '{directory}'")
        validate_file_name(file_name)
        name = canonical_name(name, "get_available_name", layers.roots)
        if layers.whiteouts is not None:
            layers.whiteouts.refuse_reserved(name)
        target = layers.target
        if _overwrites(target):
            return target.get_available_name(name, max_length=max_length)
        proposed = os.fspath(target.get_available_name(name, max_length=max_length))
        if self._can_take(layers, proposed, max_length, renamed=proposed != name):
            return proposed
        directory, file_name = os.path.split(proposed)
        extension = "".join(pathlib.PurePath(file_name).suffixes)
        root = file_name[: len(file_name) - len(extension)]
        name = proposed
        while True:
            name = os.path.join(directory, target.get_alternative_name(root, extension))
            if max_length is not None and len(name) > max_length:
                root = root[: len(root) - (len(name) - max_length)]
                if not root:
                    raise SuspiciousFileOperation(
                        f"No free name for {name!r} fits max_length={max_length}; "
                        f"allow a longer max_length on the file field."
                    )
                name = os.path.join(directory, target.get_alternative_name(root, extension))
            if self._can_take(layers, name, max_length, renamed=True):
                return name

    def _can_take(self, layers: Layers, name: str, max_length: int | None, renamed: bool) -> bool:
        # Like is_name_available(), but a read-only backend that cannot answer
        # (production down, throttled, forbidden) does not stop a local write:
        # its answer is unknown, so the name given is not taken as it is, in
        # case it exists there, and an alternative name (which carries a
        # random suffix in Django's rule) is.
        if max_length and len(name) > max_length:
            return False
        # Claim the name before looking for it: a save that held it has written
        # its file before letting it go, so the look below then finds the file.
        if not self._reserve(name):
            return False
        try:
            free = lookup.free(layers, name)
        except BaseException:
            self._release(name)
            raise
        if free is None:
            free = renamed
        if not free:
            self._release(name)
        return free

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
