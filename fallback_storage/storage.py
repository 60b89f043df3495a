"""The storages: :class:`FallbackStorage`, and :class:`ReadOnlyStorage` re-exported."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO, Any

from django.core.exceptions import (
    ImproperlyConfigured,
    SuspiciousOperation,
)
from django.core.files.base import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from fallback_storage.available_names import NameChoice
from fallback_storage.backends import (
    BackendEntry,
    build_backend,
    building,
    legacy_entries,
    validate_entries,
    watch_settings,
)
from fallback_storage.exceptions import OperationNotImplemented, ReadOnlyStorageError
from fallback_storage.failures import Failure, add_note, combine, is_missing, layer
from fallback_storage.location_cache import LocationCache, validate_options
from fallback_storage.name_checks import check_name
from fallback_storage.overlay import OPTION_NAMES as OVERLAY_OPTIONS
from fallback_storage.overlay import Overlay
from fallback_storage.readonly import ReadOnlyStorage

__all__ = ["FallbackStorage", "ReadOnlyStorage"]

_OPTIONS = ("backends", "cache_timeout", "cache_alias", *OVERLAY_OPTIONS)
_WRITE_MODE_CHARACTERS = frozenset("wax+")
# What the location cache remembers for a name the first backend has.
_IN_FIRST = (0, True)


@deconstructible(path="fallback_storage.storage.FallbackStorage")
class FallbackStorage(NameChoice):
    """A storage that tries several backends in order; the first successful answer wins.

    ``backends`` lists the backends, first tried first. Each entry is an alias
    of ``settings.STORAGES``, a dotted path to a storage class, a
    ``{"BACKEND": ..., "OPTIONS": {...}}`` dict or a storage instance. Without
    it, the 1.x setting ``FALLBACK_STORAGES`` is read at first use.

    ``cache_timeout`` (seconds, default None: off) turns on the location
    cache, which remembers which backend has a name; ``cache_alias`` (default
    None: a private in-process cache) names the ``settings.CACHES`` entry it
    uses. See :mod:`fallback_storage.location_cache`.

    ``whiteouts``, ``copy_on_read``, ``copy_on_read_max_size`` and
    ``copy_on_read_skip`` switch on the overlay semantics of
    :mod:`fallback_storage.overlay`; all are off by default.
    """

    def __init__(
        self,
        backends: Sequence[BackendEntry] | None = None,
        *,
        cache_timeout: float | None = None,
        cache_alias: str | None = None,
        **options: Any,
    ) -> None:
        self._overlay = Overlay.from_options(options)
        if options:
            raise ImproperlyConfigured(
                f"FallbackStorage got unknown options {sorted(options)}; "
                f"remove them or use one of {list(_OPTIONS)}."
            )
        self._entries = (
            None if backends is None else validate_entries(backends, "FallbackStorage 'backends'")
        )
        validate_options(cache_timeout, cache_alias)
        if cache_timeout is not None and self._overlay is not None:
            raise ImproperlyConfigured(
                "FallbackStorage 'cache_timeout' cannot be combined with 'whiteouts' or "
                "'copy_on_read', because both move names between layers behind the cache's "
                "back; turn one of them off."
            )
        self._cache = None if cache_timeout is None else LocationCache(cache_timeout, cache_alias)
        self._built: tuple[Storage, ...] | None = None
        self._lock = threading.RLock()
        self._start_reservations()
        watch_settings(self)

    # -- building the backends ------------------------------------------------

    @property
    def backends(self) -> tuple[Storage, ...]:
        """The built backends, in the order they are tried."""
        built = self._built
        if built is None:
            built = self._build_backends()
        return built

    def _wrapped_backends(self) -> tuple[Storage, ...]:
        return self.backends

    def _build_backends(self) -> tuple[Storage, ...]:
        with self._lock, building(self, "FallbackStorage"):
            if self._built is not None:
                return self._built
            if self._entries is None:
                entries, label = legacy_entries("FallbackStorage"), "settings.FALLBACK_STORAGES"
            else:
                entries, label = self._entries, "FallbackStorage 'backends'"
            built = tuple(build_backend(entry, label) for entry in entries)
            if self._cache is not None:
                self._cache.bind(built)
            self._built = built
            return built

    def _reset_backends(self) -> None:
        with self._lock:
            self._built = None
            if self._cache is not None:
                self._cache.unbind()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_built"] = None
        for unpicklable in ("_lock", "_reserved", "_reservation_lock", "_saving"):
            del state[unpicklable]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._start_reservations()
        watch_settings(self)

    def __getattr__(self, attribute: str) -> Any:
        # Attributes a backend has and Storage does not (location, base_url,
        # bucket_name...) read through from the first backend that has them.
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        for backend in self.backends:
            try:
                return getattr(backend, attribute)
            except AttributeError:
                continue
        raise AttributeError(
            f"Neither FallbackStorage nor any of its backends has an attribute {attribute!r}."
        )

    @property
    def read_only(self) -> bool:
        """Whether every backend is read-only, so no write can succeed."""
        return all(getattr(backend, "read_only", False) is True for backend in self.backends)

    def _write_target(self) -> Storage:
        for backend in self.backends:
            if getattr(backend, "read_only", False) is not True:
                return backend
        return self.backends[0]

    # -- the dispatch rule -----------------------------------------------------

    def _layers(self, name: str | None) -> tuple[Storage, ...]:
        # The backends that may answer for name: whiteouts can hide it in all but one.
        if self._overlay is None:
            return self._built or self._build_backends()
        return self._overlay.layers(self, name)

    def _first_success(self, method: str, name: str | None, *args: Any, **kwargs: Any) -> Any:
        return self._dispatch(method, name, args, kwargs, self._layers(name), 0, [])

    def _dispatch(
        self,
        method: str,
        name: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        backends: tuple[Storage, ...],
        start: int,
        failures: list[Failure],
    ) -> Any:
        for index in range(start, len(backends)):
            backend = backends[index]
            function = getattr(backend, method, None)
            if function is None:
                continue
            try:
                return function(*args, **kwargs)
            except SuspiciousOperation:
                raise
            except NotImplementedError:
                continue
            except Exception as error:
                failures.append(Failure(index, backend, error))
        if not failures:
            raise _not_implemented(method, backends)
        raise combine(failures, method, name)

    def _after_first(
        self,
        method: str,
        name: str,
        args: tuple[Any, ...],
        backends: tuple[Storage, ...],
        error: Exception,
    ) -> Any:
        """Go on with ``backends[1:]`` after the first backend raised ``error``.

        The hot paths call the first backend directly (no generic dispatch), and
        come here only when it could not answer.
        """
        if self._cache is not None:
            self._cache.forget((name,))  # it was remembered in the first backend
        if isinstance(error, SuspiciousOperation):
            raise error
        failures: list[Failure] = []
        first = backends[0]
        if not isinstance(error, NotImplementedError) and getattr(first, method, None):
            failures.append(Failure(0, first, error))
        return self._dispatch(method, name, args, {}, backends, 1, failures)

    # -- reading -----------------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        check_name(name, "open", "FallbackStorage")
        if self._overlay is not None:
            return self._overlay.open(self, name, mode)
        backends = self._built or self._build_backends()
        cache = self._cache
        if cache is None or (
            cache.lookup(name) == _IN_FIRST and not _WRITE_MODE_CHARACTERS.intersection(mode)
        ):
            try:
                return backends[0].open(name, mode)
            except Exception as caught:
                error = caught
            result: File[Any] = self._after_first("open", name, (name, mode), backends, error)
            return result
        if _WRITE_MODE_CHARACTERS.intersection(mode):
            try:
                result = self._first_success("open", name, name, mode)
            finally:
                cache.forget((name,))
            return result
        # A lazily opening backend may succeed for a missing file, so a
        # successful open proves nothing: it uses the cache but never fills it.
        result = self._located(cache, "open", name, (name, mode), record=False)
        return result

    def exists(self, name: str) -> bool:
        """Whether any backend has ``name``; stops at the first that does."""
        check_name(name, "exists", "FallbackStorage")
        backends = self._built or self._build_backends()
        if self._overlay is not None:
            if self._overlay.is_marker(name):
                return False
            backends = self._overlay.layers(self, name)
        cache = self._cache
        if cache is None:
            try:
                if backends[0].exists(name):
                    return True
            except Exception as caught:
                error: Exception | None = caught
            else:
                error = None
            return self._exists(name, backends, error, None, 0, 0)
        start = 0
        known = cache.lookup(name)
        if known is not None:
            start, found = known
            if found or start >= len(backends):
                return found
        return self._exists(name, backends, None, cache, cache.token(), start)

    def _exists(
        self,
        name: str,
        backends: tuple[Storage, ...],
        first_error: Exception | None,
        cache: LocationCache | None,
        token: int,
        start: int,
    ) -> bool:
        """exists() from layer ``start``, or from layer 1 after the first said no or raised."""
        certain = True
        failures: list[Failure] = []
        if cache is None:
            start = 1
            if isinstance(first_error, SuspiciousOperation):
                raise first_error
            if isinstance(first_error, NotImplementedError):
                certain = False
            elif first_error is not None:
                failures.append(Failure(0, backends[0], first_error))
        for index in range(start, len(backends)):
            backend = backends[index]
            try:
                if backend.exists(name):
                    if cache is not None and certain:
                        cache.remember(name, index, True, token)
                    return True
            except SuspiciousOperation:
                raise
            except NotImplementedError:
                certain = False
                continue
            except Exception as error:
                certain = False
                failures.append(Failure(index, backend, error))
        if failures:
            raise combine(failures, "exists", name)
        if cache is not None and certain:
            cache.remember(name, len(backends), False, token)
        return False

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The union of every backend's listing, each name once, in backend order."""
        check_name(path, "listdir", "FallbackStorage")
        directories: dict[str, None] = {}
        files: dict[str, None] = {}
        missing: list[Failure] = []
        answered = False
        keep = None
        if self._overlay is not None and self._overlay.whiteouts:
            keep = self._overlay.listing_filter(self, path)
        for index, backend in enumerate(self.backends):
            try:
                backend_directories, backend_files = backend.listdir(path)
                if keep is not None:
                    backend_directories, backend_files = keep(
                        backend, backend_directories, backend_files
                    )
            except SuspiciousOperation:
                raise
            except NotImplementedError:
                continue
            except FileNotFoundError as error:
                missing.append(Failure(index, backend, error))
                continue
            except Exception as error:
                add_note(error, f"listdir() failed in {layer(index, backend)}.")
                raise
            answered = True
            directories.update(dict.fromkeys(backend_directories))
            files.update(dict.fromkeys(backend_files))
        if answered:
            return list(directories), list(files)
        if missing:
            raise combine(missing, "listdir", path)
        return self._first_success("listdir", path, path)  # type: ignore[no-any-return]

    def size(self, name: str) -> int:
        check_name(name, "size", "FallbackStorage")
        if self._overlay is not None:
            return self._first_success("size", name, name)  # type: ignore[no-any-return]
        backends = self._built or self._build_backends()
        cache = self._cache
        if cache is None or cache.lookup(name) == _IN_FIRST:
            try:
                return backends[0].size(name)
            except Exception as caught:
                error = caught
            return self._after_first("size", name, (name,), backends, error)  # type: ignore[no-any-return]
        return self._located(cache, "size", name, (name,))  # type: ignore[no-any-return]

    def path(self, name: str) -> str:
        check_name(name, "path", "FallbackStorage")
        return self._first_success("path", name, name)  # type: ignore[no-any-return]

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        """The URL from the first backend that has ``name``, else from the last backend.

        Extra arguments (``S3Storage.url``'s ``parameters``, ``expire``,
        ``http_method``) are passed through.
        """
        check_name(name, "url", "FallbackStorage")
        backends = self._built or self._build_backends()
        if self._overlay is not None:
            # Hidden layers are skipped, but a missing file's URL still comes from the last.
            visible = self._overlay.layers(self, name)
            backends = (*(b for b in visible if b is not backends[-1]), backends[-1])
        last = len(backends) - 1
        start = 0
        cache = self._cache
        token = 0
        if cache is None and last and name is not None:
            first = backends[0]
            try:
                has = first.exists(name)
            except NotImplementedError:
                has = False
            if has:
                try:
                    return first.url(name, *args, **kwargs) if args or kwargs else first.url(name)
                except NotImplementedError:
                    pass
            start = 1
        elif cache is not None and name is not None:
            known = cache.lookup(name)
            if known is not None:
                start, found = known
                if found and start < last:
                    try:
                        backend = backends[start]
                        return (
                            backend.url(name, *args, **kwargs)
                            if args or kwargs
                            else backend.url(name)
                        )
                    except NotImplementedError:
                        start += 1
            token = cache.token()
        certain = True
        for index in range(start, last):
            backend = backends[index]
            if name is None:
                break
            try:
                has = backend.exists(name)
            except NotImplementedError:
                certain = False
                continue
            if has:
                if cache is not None and certain:
                    cache.remember(name, index, True, token)
                try:
                    return backend.url(name, *args, **kwargs)
                except NotImplementedError:
                    continue
        else:
            if cache is not None and certain and name is not None and start < last:
                cache.remember(name, last, False, token)
        try:
            if args or kwargs:
                return backends[last].url(name, *args, **kwargs)
            return backends[last].url(name)
        except NotImplementedError:
            return self._first_success("url", name, name, *args, **kwargs)  # type: ignore[no-any-return]

    def _located(
        self,
        cache: LocationCache,
        method: str,
        name: str,
        args: tuple[Any, ...],
        record: bool = True,
    ) -> Any:
        """``_first_success`` for a read of ``name``, starting where the cache says it is."""
        backends = self._built or self._build_backends()
        start = 0
        known = cache.lookup(name)
        if known is not None:
            start = known[0]
            if start >= len(backends):
                error = FileNotFoundError(errno.ENOENT, f"{name!r} is in no backend", name)
                add_note(
                    error,
                    f"The location cache remembers that no backend has {name!r}; "
                    f"it forgets after {cache.timeout} seconds, or when the file is "
                    f"saved through this storage.",
                )
                raise error
        token = cache.token()
        certain = True
        failures: list[Failure] = []
        for index in range(start, len(backends)):
            backend = backends[index]
            function = getattr(backend, method, None)
            if function is None:
                certain = False
                continue
            try:
                result = function(*args)
            except SuspiciousOperation:
                raise
            except NotImplementedError:
                certain = False
                continue
            except Exception as error:
                certain = certain and is_missing(error)
                failures.append(Failure(index, backend, error))
                continue
            if record and certain and known != (index, True):
                cache.remember(name, index, True, token)
            return result
        if not failures:
            raise _not_implemented(method, backends)
        if certain:
            cache.remember(name, len(backends), False, token)
        elif known is not None:
            cache.forget((name,))
        raise combine(failures, method, name)

    def _read(self, method: str, name: str) -> Any:
        """A read of ``name`` by ``method``: the first backend directly, else the others."""
        check_name(name, method, "FallbackStorage")
        if self._overlay is not None:
            return self._first_success(method, name, name)
        backends = self._built or self._build_backends()
        cache = self._cache
        if cache is None or cache.lookup(name) == _IN_FIRST:
            try:
                return getattr(backends[0], method)(name)
            except Exception as caught:
                error = caught
            return self._after_first(method, name, (name,), backends, error)
        return self._located(cache, method, name, (name,))

    def get_accessed_time(self, name: str) -> datetime:
        return self._read("get_accessed_time", name)  # type: ignore[no-any-return]

    def get_created_time(self, name: str) -> datetime:
        return self._read("get_created_time", name)  # type: ignore[no-any-return]

    def get_modified_time(self, name: str) -> datetime:
        return self._read("get_modified_time", name)  # type: ignore[no-any-return]

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

    # -- names --------------------------------------------------------------------

    def get_valid_name(self, name: str) -> str:
        return self._first_success("get_valid_name", name, name)  # type: ignore[no-any-return]

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        return self._first_success(  # type: ignore[no-any-return]
            "generate_filename", str(filename), filename
        )

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return self._first_success(  # type: ignore[no-any-return]
            "get_alternative_name", file_root, file_root, file_ext
        )

    # -- writing ------------------------------------------------------------------

    def _save(self, name: str, content: File[Any]) -> str:
        check_name(name, "save", "FallbackStorage")
        if self._overlay is not None:
            self._layers(name)  # refuses the names whiteout markers use
        failures: list[Failure] = []
        for index, backend in enumerate(self.backends):
            if failures and not _rewind(content):
                if all(isinstance(f.error, ReadOnlyStorageError) for f in failures):
                    pass  # a refusal reads nothing, so the content is intact
                else:
                    add_note(
                        failures[-1].error,
                        "The content cannot be rewound, so no further backend was tried.",
                    )
                    break
            try:
                saved: str = backend._save(name, content)  # type: ignore[attr-defined]
            except SuspiciousOperation:
                raise
            except NotImplementedError:
                continue
            except Exception as error:
                failures.append(Failure(index, backend, error))
            else:
                if self._cache is not None:
                    self._cache.forget((name, saved))
                if self._overlay is not None:
                    self._overlay.saved(self, saved)
                return saved
        if not failures:
            raise _not_implemented("_save", self.backends)
        raise combine(failures, "save", name)

    def delete(self, name: str) -> None:
        """Delete ``name`` from the first backend that accepts the delete (the 1.x rule).

        With ``whiteouts`` on, ``name`` (a file or a directory) is deleted from
        the writable backend and hidden in the others by a whiteout marker.
        """
        check_name(name, "delete", "FallbackStorage")
        if not name:
            # FileSystemStorage refuses an empty name but InMemoryStorage and S3
            # take it, so without this the delete would fall through to them.
            raise ValueError(
                "FallbackStorage.delete() got an empty file name; "
                "pass the name of the file to delete."
            )
        if self._overlay is not None and self._overlay.whiteouts:
            self._overlay.delete(self, name)
            return
        try:
            self._first_success("delete", name, name)
        finally:
            if self._cache is not None:
                self._cache.forget((name,))

    # -- whiteouts ------------------------------------------------------------------

    @property
    def whiteouts(self) -> bool:
        """Whether the ``whiteouts`` option is on."""
        return self._overlay is not None and self._overlay.whiteouts

    @property
    def copy_on_read(self) -> bool:
        """Whether the ``copy_on_read`` option is on."""
        return self._overlay is not None and self._overlay.copy_on_read

    def _whiteouts(self, method: str) -> Overlay:
        if self._overlay is None or not self._overlay.whiteouts:
            raise ImproperlyConfigured(
                f"FallbackStorage.{method}() needs the 'whiteouts' option, which is False; "
                f"set 'whiteouts': True in the storage's OPTIONS."
            )
        return self._overlay

    def list_whiteouts(self, path: str = "") -> list[str]:
        """The names hidden by whiteout markers under ``path``, sorted."""
        return self._whiteouts("list_whiteouts").list_whiteouts(self, path)

    def clear_whiteouts(self, names: Iterable[str] | None = None) -> list[str]:
        """Remove the markers of ``names`` (all when ``None``); returns the names cleared."""
        return self._whiteouts("clear_whiteouts").clear_whiteouts(self, names)


def _not_implemented(method: str, backends: Sequence[Storage]) -> OperationNotImplemented:
    return OperationNotImplemented(
        f"No backend of FallbackStorage implements {method}() "
        f"({', '.join(type(b).__qualname__ for b in backends)}); add a backend that does."
    )


def _rewind(content: IO[Any] | File[Any]) -> bool:
    try:
        seekable = getattr(content, "seekable", None)
        if seekable is not None and not seekable():
            return False
        content.seek(0)
    except (AttributeError, OSError, ValueError):
        return False
    return True
