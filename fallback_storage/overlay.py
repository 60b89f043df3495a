"""Opt-in overlay semantics for :class:`~fallback_storage.storage.FallbackStorage`.

Two options, both off by default so the 1.x contract is unchanged:

``whiteouts``
    ``delete()`` of a name that another layer still has records a *whiteout
    marker* in the writable layer (the first writable backend), in the
    OverlayFS style: ``docs/report.pdf`` is hidden by the empty file
    ``docs/.wh.report.pdf``, and a directory ``docs`` (its whole subtree) by
    ``.wh.docs``. A marker hides the name in every layer but the writable
    one, whose own files always stay visible; saving the name again removes
    its marker. Markers are looked up only in the writable layer, so
    checking them costs no request to the other layers.

``copy_on_read``
    Opening a file that a lower layer serves streams a copy into the
    writable layer first (chunk by chunk, never whole in memory), unless it
    is larger than ``copy_on_read_max_size`` or matches a
    ``copy_on_read_skip`` glob pattern.

With either option on, opening a file only a lower layer has in an append or
update mode (``a``, ``r+``...) copies it up first, so the result keeps the
original bytes.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import posixpath
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage

from fallback_storage.failures import Failure, combine, is_missing

if TYPE_CHECKING:
    from fallback_storage.storage import FallbackStorage

__all__ = ["MARKER_PREFIX", "Overlay", "marker_for"]

logger = logging.getLogger(__name__)

#: The name prefix of whiteout markers; names with a segment that starts with it are refused
#: while ``whiteouts`` is on.
MARKER_PREFIX = ".wh."
OPTION_NAMES = ("whiteouts", "copy_on_read", "copy_on_read_max_size", "copy_on_read_skip")
_WRITE_MODE_CHARACTERS = frozenset("wax+")

ListingFilter = Callable[[Storage, list[str], list[str]], tuple[list[str], list[str]]]


def _parts(name: str) -> list[str]:
    return [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]


def marker_for(name: str) -> str:
    """The whiteout marker that hides ``name`` (a file or a whole directory)."""
    *directory, base = _parts(name)
    return posixpath.join(*directory, f"{MARKER_PREFIX}{base}")


def is_reserved(name: str) -> bool:
    """Whether ``name`` has a path segment the marker scheme uses."""
    return any(part.startswith(MARKER_PREFIX) for part in _parts(name))


def _bool_option(options: dict[str, Any], option: str) -> bool:
    value = options.pop(option, False)
    if not isinstance(value, bool):
        raise ImproperlyConfigured(
            f"FallbackStorage option {option!r} must be True or False, got {value!r}; "
            f"set it to a bool."
        )
    return value


class Overlay:
    """The overlay options of one ``FallbackStorage`` and the behaviour they switch on."""

    def __init__(
        self, whiteouts: bool, copy_on_read: bool, max_size: int | None, skip: Sequence[str]
    ) -> None:
        self.whiteouts = whiteouts
        self.copy_on_read = copy_on_read
        self.max_size = max_size
        self.skip = tuple(skip)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Overlay | None:
        """Pop the overlay options from ``options``; ``None`` when nothing is switched on."""
        whiteouts = _bool_option(options, "whiteouts")
        copy_on_read = _bool_option(options, "copy_on_read")
        max_size = options.pop("copy_on_read_max_size", None)
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
        ):
            raise ImproperlyConfigured(
                f"FallbackStorage option 'copy_on_read_max_size' must be a number of bytes "
                f"or None, got {max_size!r}; set it to an int of 0 or more."
            )
        skip = options.pop("copy_on_read_skip", ())
        if isinstance(skip, str) or not all(isinstance(pattern, str) for pattern in skip):
            raise ImproperlyConfigured(
                f"FallbackStorage option 'copy_on_read_skip' must be a list of glob patterns, "
                f"got {skip!r}; write it as a list of strings, e.g. ['*.mp4']."
            )
        if not (whiteouts or copy_on_read):
            return None
        return cls(whiteouts, copy_on_read, max_size, skip)

    # -- whiteouts --------------------------------------------------------------

    def reserved_error(self, name: str) -> SuspiciousFileOperation:
        return SuspiciousFileOperation(
            f"FallbackStorage cannot use the name {name!r} because names starting with "
            f"{MARKER_PREFIX!r} are whiteout markers while the 'whiteouts' option is on; "
            f"rename the file."
        )

    def is_hidden(self, target: Storage, name: str) -> bool:
        """Whether a marker in ``target`` hides ``name`` or one of its directories."""
        parts = _parts(name)
        return any(
            target.exists(marker_for(posixpath.join(*parts[: depth + 1])))
            for depth in range(len(parts))
        )

    def layers(self, storage: FallbackStorage, name: str | None) -> tuple[Storage, ...]:
        """The backends that may answer for ``name``: only the writable one when it is hidden."""
        backends = storage.backends
        if not self.whiteouts or not name:
            return backends
        if is_reserved(name):
            raise self.reserved_error(name)
        target = storage._write_target()
        if self.is_hidden(target, name):
            return (target,)
        return backends

    def is_marker(self, name: str) -> bool:
        """Whether ``name`` is a marker's, which must look missing."""
        return self.whiteouts and is_reserved(name)

    def listing_filter(self, storage: FallbackStorage, path: str) -> ListingFilter:
        """A function that removes hidden names and markers from each backend's listing."""
        target = storage._write_target()
        hidden_path = bool(_parts(path)) and self.is_hidden(target, path)
        try:
            _, target_files = target.listdir(path)
        except (FileNotFoundError, NotADirectoryError, NotImplementedError):
            target_files = []
        hidden = {file[len(MARKER_PREFIX) :] for file in target_files if is_reserved(file)}

        def keep(
            backend: Storage, directories: list[str], files: list[str]
        ) -> tuple[list[str], list[str]]:
            if backend is target:
                return directories, [file for file in files if not is_reserved(file)]
            if hidden_path:
                raise FileNotFoundError(f"{path!r} is hidden by a whiteout marker")
            return (
                [entry for entry in directories if entry not in hidden],
                [entry for entry in files if entry not in hidden and not is_reserved(entry)],
            )

        return keep

    def saved(self, storage: FallbackStorage, name: str) -> None:
        """Remove the marker of a name that was just written."""
        if self.whiteouts:
            target = storage._write_target()
            marker = marker_for(name)
            if target.exists(marker):
                target.delete(marker)

    def delete(self, storage: FallbackStorage, name: str) -> None:
        """Delete ``name`` from the writable layer and hide it in the others."""
        if is_reserved(name):
            raise self.reserved_error(name)
        target = storage._write_target()
        hidden = self.is_hidden(target, name)
        lower_has_it = not hidden and any(
            _present(backend, name) for backend in storage.backends if backend is not target
        )
        _delete_tree(target, name)
        if lower_has_it:
            _save_exactly(target, marker_for(name), ContentFile(b""))
            logger.info("Recorded a whiteout for %r in %r.", name, target)

    def list_whiteouts(self, storage: FallbackStorage, path: str = "") -> list[str]:
        target = storage._write_target()
        found: list[str] = []
        try:
            directories, files = target.listdir(path)
        except (OSError, NotImplementedError):  # no such directory
            return found
        base = "/".join(_parts(path))
        for file in files:
            if file.startswith(MARKER_PREFIX):
                found.append(posixpath.join(base, file[len(MARKER_PREFIX) :]))
        for directory in directories:
            found.extend(self.list_whiteouts(storage, posixpath.join(base, directory)))
        return sorted(found)

    def clear_whiteouts(self, storage: FallbackStorage, names: Iterable[str] | None) -> list[str]:
        target = storage._write_target()
        wanted = self.list_whiteouts(storage) if names is None else list(names)
        cleared = []
        for name in wanted:
            marker = marker_for(name)
            if target.exists(marker):
                target.delete(marker)
                cleared.append(name)
        return cleared

    # -- reading and copying up -------------------------------------------------------

    def open(self, storage: FallbackStorage, name: str, mode: str) -> File[Any]:
        if self.whiteouts and is_reserved(name):
            raise FileNotFoundError(f"{name!r} is a whiteout marker, not a file")
        target = storage._write_target()
        lower = [backend for backend in self.layers(storage, name) if backend is not target]
        if _WRITE_MODE_CHARACTERS.intersection(mode):
            updates = "w" not in mode and ("a" in mode or "+" in mode)
            if updates and lower and not target.exists(name):
                source, handle = _open_first(lower, name, "rb")
                with handle:
                    _save_exactly(target, name, File(handle, name))
                logger.info("Copied %r up from %r before opening it as %r.", name, source, mode)
            opened: File[Any] = storage._first_success("open", name, name, mode)
            self.saved(storage, name)
            return opened
        if not self.copy_on_read or not lower or target.exists(name) or self._skipped(name):
            return storage._first_success("open", name, name, mode)  # type: ignore[no-any-return]
        source, handle = _open_first(lower, name, "rb")
        if self.max_size is not None and _size(source, name, handle) > self.max_size:
            return _reopen(source, name, handle, mode)
        try:
            _save_exactly(target, name, File(handle, name))
        except FileExistsError:  # another reader copied it meanwhile: leave that copy alone
            return _reopen(source, name, handle, mode, rewind=True)
        except Exception:
            logger.warning(
                "Could not copy %r into %r; serving it from %r.",
                name,
                target,
                source,
                exc_info=True,
            )
            _delete_quietly(target, name)
            return _reopen(source, name, handle, mode, rewind=True)
        handle.close()
        logger.info("Copied %r from %r into %r on read.", name, source, target)
        return target.open(name, mode)

    def _skipped(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.skip)


def _present(backend: Storage, name: str) -> bool:
    """Whether ``backend`` has ``name`` as a file or a non-empty directory."""
    try:
        if backend.exists(name):
            return True
        directories, files = backend.listdir(name)
    except (FileNotFoundError, NotADirectoryError, NotImplementedError):
        return False
    except Exception as error:
        # When a layer cannot be asked, hide the name anyway: the delete was meant.
        return not is_missing(error)
    return bool(directories or files)


def _delete_tree(target: Storage, name: str) -> None:
    try:
        directories, files = target.listdir(name)
    except (OSError, NotImplementedError):  # a file (InMemoryStorage: FileExistsError) or nothing
        directories, files = [], []
    for file in files:
        _delete_quietly(target, posixpath.join(name, file))
    for directory in directories:
        _delete_tree(target, posixpath.join(name, directory))
    _delete_quietly(target, name)


def _delete_quietly(target: Storage, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        target.delete(name)


def _save_exactly(target: Storage, name: str, content: File[Any]) -> None:
    # _save, not save: save() would pick another name if this one were taken.
    saved: str = target._save(name, content)  # type: ignore[attr-defined]
    if saved != name:
        _delete_quietly(target, saved)
        raise FileExistsError(f"{name!r} was created in {type(target).__qualname__} meanwhile")


def _open_first(backends: Sequence[Storage], name: str, mode: str) -> tuple[Storage, File[Any]]:
    failures: list[Failure] = []
    for index, backend in enumerate(backends):
        try:
            return backend, backend.open(name, mode)
        except NotImplementedError:
            continue
        except Exception as error:
            failures.append(Failure(index, backend, error))
    if not failures:
        raise FileNotFoundError(f"{name!r} is in no backend")
    raise combine(failures, "open", name)


def _size(source: Storage, name: str, handle: File[Any]) -> int:
    try:
        return int(handle.size)
    except (AttributeError, OSError, TypeError, ValueError):
        return source.size(name)


def _reopen(
    source: Storage, name: str, handle: File[Any], mode: str, rewind: bool = False
) -> File[Any]:
    if mode == "rb":
        if not rewind:
            return handle
        try:
            handle.seek(0)
            return handle
        except (AttributeError, OSError, ValueError):
            pass
    handle.close()
    return source.open(name, mode)
