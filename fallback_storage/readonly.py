"""ReadOnlyStorage: any storage backend, with every write refused.

Protection starts when the wrapper is constructed: it builds its backend
right away and has the cloud guards protect every cloud container reachable
from it, for the rest of the process (:mod:`fallback_storage.cloud_guards`).
An entry that cannot be built yet (an alias missing from ``settings.STORAGES``,
say) is built, and protected, at first use, where its error is raised. With
``"fallback_storage"`` in ``INSTALLED_APPS``, every storage of this package in
``settings.STORAGES`` is built when Django starts (:mod:`fallback_storage.apps`),
so protection holds from the first request on.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from fallback_storage import cloud_guards
from fallback_storage.backends import BackendEntry, build_backend, building, watch_settings
from fallback_storage.exceptions import (
    OperationNotImplemented,
    ReadOnlyStorageError,
)
from fallback_storage.lending import lend, validate_read_methods
from fallback_storage.method_kinds import is_write_mode
from fallback_storage.name_checks import check_name, climbs_out
from fallback_storage.read_errors import read_error
from fallback_storage.read_only_files import ReadOnlyFile
from fallback_storage.write_urls import refused_url

__all__ = ["ReadOnlyStorage"]

_OPTIONS = ("backend", "forbidden_as_missing", "read_methods")
# Attributes of the wrapper itself, never passed on to the backend when assigned.
_OWN_ATTRIBUTES = frozenset(_OPTIONS)
_T = TypeVar("_T")
# The backend entries whose wrappers are being built at construction, in this
# context: an entry met again there refers to itself through settings.STORAGES.
_building_early: contextvars.ContextVar[tuple[object, ...]] = contextvars.ContextVar(
    "fallback_storage_building_early", default=()
)


@deconstructible(path="fallback_storage.storage.ReadOnlyStorage")
class ReadOnlyStorage(Storage):
    """Wrap ``backend`` so that reads are delegated and every write is refused.

    ``backend`` takes the same forms as a :class:`FallbackStorage` entry. A
    refused write raises :class:`~fallback_storage.exceptions.ReadOnlyStorageError`,
    a :class:`PermissionError`, before anything reaches the backend; inside a
    ``FallbackStorage`` it is an ordinary failure, so the write falls through to
    the next backend.

    Every cloud container reachable from ``backend`` (an S3 bucket, directly,
    through a lazy object or a nested ``FallbackStorage``) is protected in the
    whole process from construction on: no client of the process can write to
    it (:mod:`fallback_storage.cloud_guards`). Files it opens refuse writes;
    URLs that would sign a write are refused (:mod:`fallback_storage.write_urls`);
    of the backend's own attributes it lends data and read methods only
    (:mod:`fallback_storage.lending`), ``read_methods`` naming more methods
    that only read.
    """

    read_only = True

    def __init__(
        self,
        backend: BackendEntry | None = None,
        forbidden_as_missing: bool = False,
        read_methods: Iterable[str] = (),
        **options: Any,
    ) -> None:
        if options:
            raise ImproperlyConfigured(
                f"ReadOnlyStorage got unknown options {sorted(options)}; "
                f"remove them or use one of {list(_OPTIONS)}."
            )
        if backend is None:
            raise ImproperlyConfigured(
                "ReadOnlyStorage has no 'backend' option; set it to the storage to protect "
                "(an alias in settings.STORAGES, a dotted class path, a "
                '{"BACKEND": ..., "OPTIONS": ...} dict or a storage instance).'
            )
        if isinstance(backend, (list, tuple)):
            raise ImproperlyConfigured(
                f"ReadOnlyStorage 'backend' must be one backend, got the list {backend!r}; "
                f"wrap each backend in its own ReadOnlyStorage."
            )
        if not isinstance(forbidden_as_missing, bool):
            raise ImproperlyConfigured(
                f"ReadOnlyStorage 'forbidden_as_missing' must be True or False, "
                f"got {forbidden_as_missing!r}; set it to a bool."
            )
        self._entry = backend
        self.forbidden_as_missing = forbidden_as_missing
        self.read_methods = validate_read_methods(read_methods)
        self._built: Storage | None = None
        self._lock = threading.RLock()
        watch_settings(self)
        self._protect_now()

    def _protect_now(self) -> None:
        """Build the backend, and so protect its cloud containers, unless it cannot be built yet."""
        stack = _building_early.get()
        if any(entry is self._entry or entry == self._entry for entry in stack):
            raise ImproperlyConfigured(
                f"ReadOnlyStorage 'backend' entry {self._entry!r} refers to itself through "
                f"settings.STORAGES; remove the entry that leads back to it."
            )
        token = _building_early.set((*stack, self._entry))
        try:
            self.backend  # noqa: B018 - built for the protection it registers
        except ImproperlyConfigured:
            pass  # raised again at first use, where the caller sees it
        finally:
            _building_early.reset(token)

    @property
    def backend(self) -> Storage:
        """The wrapped storage."""
        built = self._built
        if built is None:
            with self._lock, building(self, "ReadOnlyStorage"):
                if self._built is None:
                    storage = build_backend(self._entry, "ReadOnlyStorage 'backend'")
                    cloud_guards.protect_reachable(storage)
                    self._built = storage
                built = self._built
        return built

    def _wrapped_backends(self) -> tuple[Storage, ...]:
        return (self.backend,)

    def _reset_backends(self) -> None:
        with self._lock:
            self._built = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_built"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        watch_settings(self)
        self._protect_now()

    def __setattr__(self, attribute: str, value: Any) -> None:
        # Assigning an attribute the backend has (base_url, location...) sets it there, as
        # on the storage it stands for; whatever the backend reaches then is protected too.
        built = self.__dict__.get("_built")
        if (
            attribute.startswith("_")
            or attribute in _OWN_ATTRIBUTES
            or hasattr(type(self), attribute)
            or built is None
            or not hasattr(built, attribute)
        ):
            super().__setattr__(attribute, value)
            return
        setattr(built, attribute, value)
        cloud_guards.protect_reachable(built)

    def __getattr__(self, attribute: str) -> Any:
        # Attributes of the wrapped backend (base_url, bucket_name, location...)
        # read through the wrapper; of its methods, only those known to read.
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        backend = self.backend
        return lend(
            attribute,
            getattr(backend, attribute),
            read_methods=self.read_methods,
            backend=_describe(backend),
            wrap=ReadOnlyStorage,
        )

    def _refuse(self, operation: str, name: str | None) -> ReadOnlyStorageError:
        backend = _describe(self.backend)
        return ReadOnlyStorageError(
            f"ReadOnlyStorage refused to {operation} {name!r} in {backend}; "
            f"list a writable backend beside it in FallbackStorage, "
            f"or write to another storage.",
            operation=operation,
            name=name,
            backend=backend,
        )

    def _delegate(self, method: str, *args: Any, **kwargs: Any) -> Any:
        function = getattr(self.backend, method, None)
        if function is None:
            raise OperationNotImplemented(
                f"{type(self.backend).__qualname__} has no {method}(); "
                f"this Django version or backend does not provide it."
            )
        return function(*args, **kwargs)

    # -- writes: refused --------------------------------------------------------

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        raise self._refuse("save", name if name is not None else getattr(content, "name", None))

    def _save(self, name: str, content: File[Any]) -> str:
        raise self._refuse("save", name)

    def delete(self, name: str) -> None:
        raise self._refuse("delete", name)

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if is_write_mode(mode):
            raise self._refuse(f"open (mode {mode!r})", name)
        opened = self._read("open", name, self.backend.open, name, mode)
        return ReadOnlyFile(opened, backend=_describe(self.backend), name=name)

    # -- reads: delegated -------------------------------------------------------

    def _read(self, operation: str, name: str, function: Callable[..., _T], *args: Any) -> _T:
        check_name(name, operation, "ReadOnlyStorage")
        try:
            return function(*args)
        except Exception as error:
            raise read_error(
                error, operation, name, self.backend, self.forbidden_as_missing
            ) from error

    def exists(self, name: str) -> bool:
        check_name(name, "exists", "ReadOnlyStorage")
        try:
            return self.backend.exists(name)
        except Exception as error:
            translated = read_error(error, "exists", name, self.backend, self.forbidden_as_missing)
            if isinstance(translated, FileNotFoundError):
                return False
            raise translated from error

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._read("listdir", path, self.backend.listdir, path)

    def size(self, name: str) -> int:
        return self._read("size", name, self.backend.size, name)

    def path(self, name: str) -> str:
        check_name(name, "path", "ReadOnlyStorage")
        return self.backend.path(name)

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        """The backend's URL for ``name``; arguments that would sign a write are refused."""
        refused = refused_url(self.backend, name, args, kwargs)
        if refused is not None:
            raise self._refuse(refused, name)
        # A URL is computed, not looked up, and the backend's own answer for an odd name
        # ('/evil.com', 'ab\0c') is Django's; only a name that climbs out is refused.
        if climbs_out(name):
            check_name(name, "url", "ReadOnlyStorage")
        try:
            return self.backend.url(name, *args, **kwargs)
        except Exception as error:
            raise read_error(error, "url", str(name), self.backend, False) from error

    def get_accessed_time(self, name: str) -> datetime:
        return self._read("get_accessed_time", name, self.backend.get_accessed_time, name)

    def get_created_time(self, name: str) -> datetime:
        return self._read("get_created_time", name, self.backend.get_created_time, name)

    def get_modified_time(self, name: str) -> datetime:
        return self._read("get_modified_time", name, self.backend.get_modified_time, name)

    def get_valid_name(self, name: str) -> str:
        return self.backend.get_valid_name(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self.backend.get_available_name(name, max_length=max_length)

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return self.backend.get_alternative_name(file_root, file_ext)

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        return self.backend.generate_filename(filename)

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        return self._delegate("is_name_available", name, max_length=max_length)  # type: ignore[no-any-return]


def _describe(storage: Storage) -> str:
    """How refusals name the wrapped backend; the cloud guards' refusals use the same words."""
    return cloud_guards.describe(storage)
