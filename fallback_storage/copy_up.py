"""Copy-up: bring a lower layer's file into the writable layer.

Three occasions, each a rule applied to the answer of the lookup
(:mod:`fallback_storage.lookup`), never to the lookup itself:

``copy_on_read`` (option, off by default)
    Opening for reading a file that a lower layer serves stores a copy in the
    writable layer first, unless it is larger than ``copy_on_read_max_size``
    or matches a ``copy_on_read_skip`` glob pattern; the reader reads the copy.
Append and update modes
    Opening a file only a lower layer has in a mode such as ``a`` or ``r+``
    copies it up first, so the result keeps the original bytes. This applies
    whenever whiteouts or ``copy_on_read`` are on, whatever the size and skip
    options say: without the copy the result would be wrong.
``path()``
    A file only a lower layer without local paths has (an S3 bucket, an HTTP
    origin) is copied up, so the path returned is a real file; the size and
    skip options apply, and a file they exclude raises
    :class:`~fallback_storage.exceptions.NoLocalPath` naming the option.

Copies are streamed (:mod:`fallback_storage.copying`), never whole in memory.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.core.files.base import File
from django.core.files.storage import Storage

from fallback_storage.copying import copy_handle
from fallback_storage.exceptions import NoLocalPath

__all__ = ["CopyUp", "updates_in_place"]

logger = logging.getLogger(__name__)


def updates_in_place(mode: str) -> bool:
    """Whether opening in ``mode`` keeps and changes the existing bytes (``a``, ``r+``...)."""
    return "w" not in mode and ("a" in mode or "+" in mode)


class CopyUp:
    """The copy-up rules of one FallbackStorage, copying into ``target``."""

    def __init__(
        self,
        *,
        target: Storage,
        label: str,
        on_read: bool,
        before_update: bool,
        max_size: int | None,
        skip: Sequence[str],
        changed: Callable[[str], None],
    ) -> None:
        self.target = target
        self.label = label
        self.on_read = on_read
        self.before_update = before_update
        self.max_size = max_size
        self.skip = tuple(skip)
        self.changed = changed

    def served(self, source: Storage, source_label: str, name: str, handle: Any, mode: str) -> Any:
        """What a read-mode open served by the lower layer ``source`` returns: maybe a copy."""
        if not self.on_read or self._skipped(name):
            return handle
        raw = handle
        if "b" not in mode:
            handle.close()
            raw = source.open(name, "rb")
        if self.max_size is not None and _size(source, name, raw) > self.max_size:
            return _reopen(source, name, raw, mode)
        try:
            copy_handle(raw, name, self.target)
        except FileExistsError:  # another reader copied it meanwhile: leave that copy alone
            return _reopen(source, name, raw, mode, rewind=True)
        except Exception:
            logger.warning(
                "Could not copy %r into %s; serving it from %s.",
                name,
                self.label,
                source_label,
                exc_info=True,
            )
            return _reopen(source, name, raw, mode, rewind=True)
        raw.close()
        self.changed(name)
        logger.info("Copied %r from %s into %s on read.", name, source_label, self.label)
        return self.target.open(name, mode)

    def copy(self, source: Storage, source_label: str, name: str, reason: str) -> None:
        """Copy ``name`` from ``source`` into the writable layer now."""
        with source.open(name, "rb") as handle:
            copy_handle(handle, name, self.target)
        self.changed(name)
        logger.info("Copied %r up from %s into %s %s.", name, source_label, self.label, reason)

    def for_path(self, source: Storage, source_label: str, name: str) -> None:
        """Copy ``name`` up so ``path()`` can return a real file, or raise NoLocalPath."""
        if self._skipped(name):
            raise NoLocalPath(
                f"{name!r} is only in {source_label}, which has no local paths, and "
                f"'copy_on_read_skip' {list(self.skip)!r} excludes it from being copied into "
                f"{self.label}; read it with open(), or take it out of 'copy_on_read_skip'."
            )
        if self.max_size is not None and source.size(name) > self.max_size:
            raise NoLocalPath(
                f"{name!r} is only in {source_label}, which has no local paths, and it is "
                f"larger than 'copy_on_read_max_size' ({self.max_size} bytes), so it is not "
                f"copied into {self.label}; read it with open(), or raise the limit."
            )
        self.copy(source, source_label, name, "for path()")

    def _skipped(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.skip)


def _size(source: Storage, name: str, handle: Any) -> int:
    try:
        return int(handle.size)
    except (AttributeError, OSError, TypeError, ValueError):
        return source.size(name)


def _reopen(source: Storage, name: str, handle: Any, mode: str, rewind: bool = False) -> File[Any]:
    if mode == "rb":
        if not rewind:
            return handle  # type: ignore[no-any-return]
        try:
            handle.seek(0)
            return handle  # type: ignore[no-any-return]
        except (AttributeError, OSError, ValueError):
            pass
    handle.close()
    return source.open(name, mode)
