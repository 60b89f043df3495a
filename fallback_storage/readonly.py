"""ReadOnlyStorage: any storage backend, with every write refused."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from fallback_storage import cloud_guards
from fallback_storage.backends import BackendEntry, build_backend, building, watch_settings
from fallback_storage.exceptions import OperationNotImplemented, ReadOnlyStorageError
from fallback_storage.failures import add_note
from fallback_storage.name_checks import check_name

__all__ = ["ReadOnlyStorage"]

_OPTIONS = ("backend", "forbidden_as_missing")
_T = TypeVar("_T")
_WRITE_MODE_CHARACTERS = frozenset("wax+")
_WRITE_HTTP_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})


@deconstructible(path="fallback_storage.storage.ReadOnlyStorage")
class ReadOnlyStorage(Storage):
    """Wrap ``backend`` so that reads are delegated and every write is refused.

    ``backend`` takes the same forms as a :class:`FallbackStorage` entry. A
    refused write raises :class:`~fallback_storage.exceptions.ReadOnlyStorageError`,
    a :class:`PermissionError`, before anything reaches the backend; inside a
    ``FallbackStorage`` it is an ordinary failure, so the write falls through to
    the next backend. When ``backend`` is a django-storages ``S3Storage``, its
    boto3 clients are also restricted to read operations.
    """

    read_only = True

    def __init__(
        self,
        backend: BackendEntry | None = None,
        forbidden_as_missing: bool = False,
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
        self._built: Storage | None = None
        self._lock = threading.RLock()
        watch_settings(self)

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

    def __getattr__(self, attribute: str) -> Any:
        # Non-write attributes of the wrapped backend (base_url, bucket_name,
        # location...) stay readable through the wrapper.
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self.backend, attribute)

    def _refuse(self, operation: str, name: str | None) -> ReadOnlyStorageError:
        backend = _describe(self.backend)
        return ReadOnlyStorageError(
            f"ReadOnlyStorage refused to {operation} {name!r} in {backend}; "
            f"list a writable backend beside it in FallbackStorage, "
            f"or use {backend} without ReadOnlyStorage to allow writes.",
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
        if _WRITE_MODE_CHARACTERS.intersection(mode):
            raise self._refuse(f"open (mode {mode!r})", name)
        return self._read("open", name, self.backend.open, name, mode)

    # -- reads: delegated -------------------------------------------------------

    def _read(self, operation: str, name: str, function: Callable[..., _T], *args: Any) -> _T:
        check_name(name, operation, "ReadOnlyStorage")
        try:
            return function(*args)
        except Exception as error:
            if self.forbidden_as_missing and _is_forbidden(error):
                missing = FileNotFoundError(
                    errno.ENOENT,
                    f"{type(self.backend).__qualname__} answered 403 Forbidden for {name!r}, "
                    f"counted as missing because ReadOnlyStorage 'forbidden_as_missing' is True",
                    name,
                )
                add_note(missing, f"The 403 was: {type(error).__name__}: {error}")
                raise missing from error
            raise

    def exists(self, name: str) -> bool:
        check_name(name, "exists", "ReadOnlyStorage")
        try:
            return self.backend.exists(name)
        except Exception as error:
            if self.forbidden_as_missing and _is_forbidden(error):
                return False
            raise

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        check_name(path, "listdir", "ReadOnlyStorage")
        return self.backend.listdir(path)

    def size(self, name: str) -> int:
        return self._read("size", name, self.backend.size, name)

    def path(self, name: str) -> str:
        check_name(name, "path", "ReadOnlyStorage")
        return self.backend.path(name)

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        http_method = kwargs.get("http_method")
        if isinstance(http_method, str) and http_method.upper() in _WRITE_HTTP_METHODS:
            raise self._refuse(f"sign a {http_method.upper()} URL for", name)
        check_name(name, "url", "ReadOnlyStorage")
        return self.backend.url(name, *args, **kwargs)

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


def _is_forbidden(error: BaseException) -> bool:
    """Whether ``error`` is an HTTP 403 from S3 (botocore's ``ClientError``)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    return status == 403 or code in {"403", "AccessDenied", "Forbidden"}


def _describe(storage: Storage) -> str:
    """How refusals name the wrapped backend; the cloud guards' refusals use the same words."""
    return cloud_guards.describe(storage)
