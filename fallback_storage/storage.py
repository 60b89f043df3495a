"""The storages: :class:`FallbackStorage`, and :class:`ReadOnlyStorage` re-exported.

``FallbackStorage`` reads like the semantics table of the documentation
(``docs/semantics.rst``), one operation after the other in the same order.
Which layer answers for a name is decided in one place,
:mod:`fallback_storage.lookup`; where writes go, in :mod:`fallback_storage.writes`;
the options only choose the rules those two apply
(:mod:`fallback_storage.layers`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.utils.deconstruct import deconstructible

from fallback_storage import first_answer, listings, lookup, writes
from fallback_storage.exceptions import SuspiciousFileName
from fallback_storage.layered_storage import LayeredStorage
from fallback_storage.method_kinds import is_write_mode
from fallback_storage.name_checks import canonical_name, climbs_out
from fallback_storage.paths import local_path
from fallback_storage.readonly import ReadOnlyStorage
from fallback_storage.url_arguments import call_url
from fallback_storage.whiteouts import Whiteouts

__all__ = ["FallbackStorage", "ReadOnlyStorage"]


@deconstructible(path="fallback_storage.storage.FallbackStorage")
class FallbackStorage(LayeredStorage):
    """A storage that tries several backends in order; the first successful answer wins.

    ``backends`` lists the backends, first tried first: aliases of
    ``settings.STORAGES``, dotted paths to storage classes,
    ``{"BACKEND": ..., "OPTIONS": {...}}`` dicts or storage instances. Without
    it, the 1.x setting ``FALLBACK_STORAGES`` is read at first use. The other
    options (``whiteouts``, ``copy_on_read``, ``copy_on_read_max_size``,
    ``copy_on_read_skip``, ``cache_timeout``, ``cache_alias``,
    ``skip_unreachable_for``) are described in :mod:`fallback_storage.options`
    and the configuration page.
    """

    # -- reading --------------------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        layers = self._built or self._built_layers()
        if mode != "rb" and is_write_mode(mode):  # "rb", Django's default, is the usual
            return writes.open_for_writing(layers, canonical_name(name, "open", layers.roots), mode)
        return lookup.read(layers, "open", name, mode)  # type: ignore[no-any-return]

    # -- writing --------------------------------------------------------------------------

    def _save(self, name: str, content: File[Any]) -> str:
        layers = self._built_layers()
        return writes.save(layers, canonical_name(name, "save", layers.roots), content)

    def delete(self, name: str) -> None:
        """Delete ``name``: with whiteouts, hide it in every layer; else the 1.x rule.

        Whiteouts are on by default where a read-only layer sits below the
        writable one; then ``exists(name)`` is false afterwards and the lower
        layers are untouched. Otherwise the first backend that accepts the
        delete deletes it.
        """
        if not name:
            raise ValueError("The name must be given to delete().")  # Django's own words
        layers = self._built_layers()
        name = canonical_name(name, "delete", layers.roots)
        if not name:
            raise ValueError("The name must be given to delete().")
        writes.delete(layers, name)

    # -- existence and listings -----------------------------------------------------------

    def exists(self, name: str) -> bool:
        """Whether any backend has ``name``; stops at the first that does."""
        layers = self._built or self._built_layers()
        return lookup.find(layers, name) is not None

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The union of every backend's listing, each name once, in backend order."""
        layers = self._built_layers()
        return listings.listdir(layers, canonical_name(path, "listdir", layers.roots))

    # -- URLs, sizes, paths and times -----------------------------------------------------

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        """The URL from the first backend that has ``name``, else from the last backend.

        Extra arguments (``S3Storage.url``'s ``parameters``, ``expire``,
        ``http_method``) go to the backend that computes the URL, if it takes them. A
        name whose ``..`` segments climb out of the storage is refused.
        """
        layers = self._built or self._built_layers()
        try:
            name = canonical_name(name, "url", layers.roots)
        except SuspiciousFileName:
            if climbs_out(name):
                raise  # a URL that climbs out of the storage is refused, as every read is
            index = None  # '/evil.com', 'ab\0c': no layer's file; a missing file's URL, as Django's
        else:
            index = None if name is None else lookup.find(layers, name, stop=layers.count - 1)
        backend = layers.last if index is None else layers.backends[index]
        try:
            return call_url(backend, name, args, kwargs)
        except NotImplementedError:
            return first_answer.first(layers, "url", name, name)  # type: ignore[no-any-return]

    def size(self, name: str) -> int:
        return lookup.read(self._built or self._built_layers(), "size", name)  # type: ignore[no-any-return]

    def path(self, name: str) -> str:
        """A local path that tells the truth: a file only a layer without paths has is copied
        up first (see :mod:`fallback_storage.paths`)."""
        layers = self._built_layers()
        return local_path(layers, canonical_name(name, "path", layers.roots))

    def get_accessed_time(self, name: str) -> datetime:
        return lookup.read(self._built or self._built_layers(), "get_accessed_time", name)  # type: ignore[no-any-return]

    def get_created_time(self, name: str) -> datetime:
        return lookup.read(self._built or self._built_layers(), "get_created_time", name)  # type: ignore[no-any-return]

    def get_modified_time(self, name: str) -> datetime:
        return lookup.read(self._built or self._built_layers(), "get_modified_time", name)  # type: ignore[no-any-return]

    # The 1.x names.
    def accessed_time(self, name: str) -> datetime:
        """Alias of :meth:`get_accessed_time`, as in 1.x."""
        return self.get_accessed_time(name)

    def created_time(self, name: str) -> datetime:
        """Alias of :meth:`get_created_time`, as in 1.x."""
        return self.get_created_time(name)

    def modified_time(self, name: str) -> datetime:
        """Alias of :meth:`get_modified_time`, as in 1.x."""
        return self.get_modified_time(name)

    # -- names (get_available_name and is_name_available: NameChoice) ---------------------

    def get_valid_name(self, name: str) -> str:
        return first_answer.first(self._built_layers(), "get_valid_name", name, name)  # type: ignore[no-any-return]

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        layers = self._built_layers()
        return first_answer.first(layers, "generate_filename", str(filename), filename)  # type: ignore[no-any-return]

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        layers = self._built_layers()
        return first_answer.first(layers, "get_alternative_name", file_root, file_root, file_ext)  # type: ignore[no-any-return]

    # -- whiteouts --------------------------------------------------------------------------

    @property
    def whiteouts(self) -> bool:
        """Whether whiteouts are on (by default: where a read-only layer is below the writable)."""
        return self._built_layers().whiteouts is not None

    @property
    def copy_on_read(self) -> bool:
        """Whether the ``copy_on_read`` option is on."""
        return self._options.copy_on_read

    def list_whiteouts(self, path: str = "") -> list[str]:
        """The names hidden by whiteout markers under ``path``, sorted."""
        return self._whiteouts("list_whiteouts").list(path)

    def clear_whiteouts(self, names: Iterable[str] | None = None) -> list[str]:
        """Remove the markers of ``names`` (all when ``None``); returns the names cleared."""
        cleared = self._whiteouts("clear_whiteouts").clear(names)
        self._built_layers().changed_many()
        return cleared

    def _whiteouts(self, method: str) -> Whiteouts:
        whiteouts = self._built_layers().whiteouts
        if whiteouts is None:
            raise ImproperlyConfigured(
                f"FallbackStorage.{method}() needs whiteouts, which are off for this storage "
                f"(no read-only layer below the writable one, or 'whiteouts': False); set "
                f"'whiteouts': True in the storage's OPTIONS."
            )
        return whiteouts
