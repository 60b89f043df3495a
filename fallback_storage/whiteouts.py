"""Whiteouts: a delete that hides a file the lower layers still have.

In the OverlayFS style, the first writable backend is the *writable layer* and
every other backend a *lower layer*. ``delete()`` of a name that a lower layer
still has records a *whiteout marker* in the writable layer:
``docs/report.pdf`` is hidden by the empty file ``docs/.wh.report.pdf``, and a
directory ``docs`` (its whole subtree) by ``.wh.docs``. A marker hides the
name in every layer but the writable one, whose own files always stay
visible; saving the name again removes its marker. Markers are looked up in
the writable layer only, so checking them costs no request to the others.

:class:`Whiteouts` is the rule the lookup of :mod:`fallback_storage.lookup`
applies before it asks a lower layer about a name, and that deletes and
listings follow. It is on by default where a read-only layer sits below the
writable one (see :mod:`fallback_storage.options`).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import posixpath
from collections.abc import Callable, Iterable, Sequence

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from fallback_storage.failures import is_missing

__all__ = ["MARKER_PREFIX", "Whiteouts", "is_reserved", "marker_for"]

logger = logging.getLogger(__name__)

#: The name prefix of whiteout markers; names with a segment that starts with it are refused
#: for writes while whiteouts are on.
MARKER_PREFIX = ".wh."

ListingFilter = Callable[[int, list[str], list[str]], tuple[list[str], list[str]]]


def parts(name: str) -> list[str]:
    """The path segments of ``name``, ``/`` and ``\\`` both separators, empty and ``.`` dropped."""
    return [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]


def marker_for(name: str) -> str:
    """The whiteout marker that hides ``name`` (a file or a whole directory)."""
    *directory, base = parts(name)
    return posixpath.join(*directory, f"{MARKER_PREFIX}{base}")


def is_reserved(name: str) -> bool:
    """Whether ``name`` has a path segment the marker scheme uses."""
    return MARKER_PREFIX in name and any(part.startswith(MARKER_PREFIX) for part in parts(name))


class Whiteouts:
    """The whiteout rule of one FallbackStorage: markers in ``target``, hiding ``lower``."""

    def __init__(self, target: Storage, label: str, lower: Sequence[Storage]) -> None:
        self.target = target
        self.label = label
        self.lower = tuple(lower)

    def refuse_reserved(self, name: str) -> None:
        """Raise SuspiciousFileOperation for a name the markers use."""
        if is_reserved(name):
            raise SuspiciousFileOperation(
                f"FallbackStorage cannot use the name {name!r} because names starting with "
                f"{MARKER_PREFIX!r} are whiteout markers while whiteouts are on; rename the file."
            )

    def hides(self, name: str) -> bool:
        """Whether a marker in the writable layer hides ``name`` or one of its directories."""
        segments = parts(name)
        exists = self.target.exists
        return any(
            exists(marker_for(posixpath.join(*segments[: depth + 1])))
            for depth in range(len(segments))
        )

    def saved(self, name: str) -> None:
        """Remove the marker of a name that was just written to the writable layer."""
        marker = marker_for(name)
        if self.target.exists(marker):
            self.target.delete(marker)

    def delete(self, name: str) -> bool:
        """Delete ``name`` from the writable layer and hide it in the others.

        Returns whether more than the one name changed (a directory was
        deleted or hidden), so whoever remembers answers about names under it
        forgets them all.
        """
        self.refuse_reserved(name)
        hidden_already = self.hides(name)
        lower_has_it = not hidden_already and any(_present(layer, name) for layer in self.lower)
        tree = _delete_tree(self.target, name)
        if lower_has_it:
            _save_marker(self.target, marker_for(name))
            logger.info("Recorded a whiteout for %r in %s.", name, self.label)
        return tree or lower_has_it and _is_directory(self.lower, name)

    def listing(self, path: str, target_index: int) -> ListingFilter:
        """A function that takes hidden names and markers out of each layer's listing."""
        hidden_path = bool(parts(path)) and self.hides(path)
        try:
            _, target_files = self.target.listdir(path)
        except (FileNotFoundError, NotADirectoryError, NotImplementedError):
            target_files = []
        hidden = {file[len(MARKER_PREFIX) :] for file in target_files if is_reserved(file)}

        def keep(
            index: int, directories: list[str], files: list[str]
        ) -> tuple[list[str], list[str]]:
            if index == target_index:
                return directories, [file for file in files if not is_reserved(file)]
            if hidden_path:
                raise FileNotFoundError(f"{path!r} is hidden by a whiteout marker")
            return (
                [entry for entry in directories if entry not in hidden],
                [entry for entry in files if entry not in hidden and not is_reserved(entry)],
            )

        return keep

    def list(self, path: str = "") -> list[str]:
        """The names hidden by markers under ``path``, sorted."""
        found: list[str] = []
        try:
            directories, files = self.target.listdir(path)
        except (OSError, NotImplementedError):  # no such directory
            return found
        base = "/".join(parts(path))
        for file in files:
            if file.startswith(MARKER_PREFIX):
                found.append(posixpath.join(base, file[len(MARKER_PREFIX) :]))
        for directory in directories:
            found.extend(self.list(posixpath.join(base, directory)))
        return sorted(found)

    def clear(self, names: Iterable[str] | None) -> builtins.list[str]:
        """Remove the markers of ``names`` (all when None); return the names cleared."""
        wanted = self.list() if names is None else list(names)
        cleared = []
        for name in wanted:
            marker = marker_for(name)
            if self.target.exists(marker):
                self.target.delete(marker)
                cleared.append(name)
        return cleared


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


def _is_directory(layers: Sequence[Storage], name: str) -> bool:
    for layer in layers:
        with contextlib.suppress(Exception):
            directories, files = layer.listdir(name)
            if directories or files:
                return True
    return False


def _delete_tree(target: Storage, name: str) -> bool:
    """Delete ``name`` and, if it is a directory, everything under it; whether it was one."""
    try:
        directories, files = target.listdir(name)
    except (OSError, NotImplementedError):  # a file (InMemoryStorage: FileExistsError) or nothing
        directories, files = [], []
    for file in files:
        _delete_quietly(target, posixpath.join(name, file))
    for directory in directories:
        _delete_tree(target, posixpath.join(name, directory))
    _delete_quietly(target, name)
    return bool(directories or files)


def _delete_quietly(target: Storage, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        target.delete(name)


def _save_marker(target: Storage, marker: str) -> None:
    # _save, not save: save() would pick another name if this one were taken.
    saved: str = target._save(marker, ContentFile(b""))  # type: ignore[attr-defined]
    if saved != marker:
        _delete_quietly(target, saved)
