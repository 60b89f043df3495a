"""Turn backend entries from settings or code into storage instances.

An entry is one of:

* an alias of another entry in ``settings.STORAGES`` (``"prod"``),
* a dotted path to a storage class, built without arguments
  (``"storages.backends.s3.S3Storage"``, the 1.x form),
* a ``{"BACKEND": ..., "OPTIONS": {...}}`` dict, as in ``settings.STORAGES``,
* a :class:`~django.core.files.storage.Storage` instance.

Every problem is reported as :class:`~django.core.exceptions.ImproperlyConfigured`
with one sentence naming the entry and the fix.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import InvalidStorageError, Storage, storages
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from fallback_storage.cloud_guards import unwrap

__all__ = [
    "BackendEntry",
    "build_backend",
    "building",
    "describe",
    "legacy_entries",
    "validate_entries",
    "watch_settings",
]

BackendEntry = str | Mapping[str, Any] | Storage

_REMOVED_PATHS = {
    "storages.backends.s3boto.S3BotoStorage": "storages.backends.s3.S3Storage",
    "storages.backends.s3boto.S3BotoStorageFile": "storages.backends.s3.S3File",
}
_ENTRY_KEYS = frozenset({"BACKEND", "OPTIONS"})

# The wrapper storages (FallbackStorage, ReadOnlyStorage) whose backends are
# being built in this context, innermost last: meeting one of them again while
# building means the configuration refers to itself.
_building: contextvars.ContextVar[tuple[Storage, ...]] = contextvars.ContextVar(
    "fallback_storage_building", default=()
)


# Settings whose change can change what an entry builds into.
_RESET_ON = frozenset({"STORAGES", "FALLBACK_STORAGES", "DEFAULT_FILE_STORAGE"})


class _Rebuildable(Protocol):
    def _reset_backends(self) -> None: ...


_watched: weakref.WeakSet[_Rebuildable] = weakref.WeakSet()


def watch_settings(storage: _Rebuildable) -> None:
    """Have ``storage`` rebuild its backends when a setting they come from changes."""
    _watched.add(storage)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _RESET_ON:
        for storage in list(_watched):
            storage._reset_backends()


setting_changed.connect(_on_setting_changed, dispatch_uid="fallback_storage.backends")


def describe(storage: object) -> str:
    """A short label for a backend in messages: its class, and alias when known."""
    return type(storage).__qualname__


@contextmanager
def building(owner: Storage, label: str) -> Iterator[None]:
    """Mark ``owner`` as building its backends, detecting reference cycles."""
    stack = _building.get()
    if any(storage is owner for storage in stack):
        chain = " -> ".join([*(describe(s) for s in stack), describe(owner)])
        raise ImproperlyConfigured(
            f"{label} refers to itself through its backends ({chain}); "
            f"remove the entry that leads back to it."
        )
    token = _building.set((*stack, owner))
    try:
        yield
    finally:
        _building.reset(token)


def validate_entries(entries: object, label: str) -> list[BackendEntry]:
    """Check the shape of a ``backends`` option without building anything."""
    if isinstance(entries, (str, bytes, Mapping, Storage)) or not isinstance(entries, Sequence):
        raise ImproperlyConfigured(
            f"{label} must be a list of backends, got {entries!r}; "
            f"wrap it in a list, e.g. [{entries!r}]."
        )
    if not entries:
        raise ImproperlyConfigured(
            f"{label} is empty; list at least one backend "
            f"(an alias in settings.STORAGES, a dotted class path, a "
            f'{{"BACKEND": ..., "OPTIONS": ...}} dict or a storage instance).'
        )
    for entry in entries:
        _check_entry_type(entry, label)
    return list(entries)


def legacy_entries(owner: str) -> list[BackendEntry]:
    """Read the 1.x ``FALLBACK_STORAGES`` setting, used when ``backends`` is absent."""
    entries = getattr(settings, "FALLBACK_STORAGES", None)
    if entries is None:
        raise ImproperlyConfigured(
            f"{owner} has no 'backends' option and settings.FALLBACK_STORAGES is missing; "
            f'set STORAGES[...]["OPTIONS"]["backends"] or FALLBACK_STORAGES to a list '
            f"of backends."
        )
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
        raise ImproperlyConfigured(
            f"settings.FALLBACK_STORAGES must be a list or tuple of backends, got "
            f"{entries!r}; wrap it in a list."
        )
    if not entries:
        raise ImproperlyConfigured(
            f"settings.FALLBACK_STORAGES is empty and {owner} has no 'backends' option; "
            f"list at least one backend, e.g. "
            f"FALLBACK_STORAGES = ['django.core.files.storage.FileSystemStorage']."
        )
    for entry in entries:
        _check_entry_type(entry, "settings.FALLBACK_STORAGES")
    return list(entries)


def _check_entry_type(entry: object, label: str) -> None:
    if isinstance(entry, (str, Storage)):
        return
    if isinstance(entry, Mapping):
        unknown = sorted(str(key) for key in entry if key not in _ENTRY_KEYS)
        if unknown:
            raise ImproperlyConfigured(
                f"{label} entry {dict(entry)!r} has unknown keys {unknown}; "
                f'use only "BACKEND" and "OPTIONS".'
            )
        if not isinstance(entry.get("BACKEND"), str):
            raise ImproperlyConfigured(
                f"{label} entry {dict(entry)!r} has no 'BACKEND' dotted path; "
                f'add "BACKEND": "path.to.StorageClass".'
            )
        if not isinstance(entry.get("OPTIONS", {}), Mapping):
            raise ImproperlyConfigured(
                f"{label} entry {dict(entry)!r} has 'OPTIONS' that is not a dict; "
                f"make it a dict of keyword arguments."
            )
        return
    raise ImproperlyConfigured(
        f"{label} entry {entry!r} is not a storage; use an alias in settings.STORAGES, "
        f"a dotted class path, a "
        f'{{"BACKEND": ..., "OPTIONS": ...}} dict or a Storage instance.'
    )


def build_backend(entry: BackendEntry, label: str) -> Storage:
    """Build one backend entry into a storage instance, and its own backends if it wraps some."""
    storage = _build(entry, label)
    # A wrapper's backends are built lazily; build them now, inside the
    # caller's ``building()`` context, so a configuration that loops back to
    # the caller fails here instead of recursing at the first request.
    wrapped = getattr(type(storage), "_wrapped_backends", None)
    if wrapped is not None:
        wrapped(storage)
    return storage


def _build(entry: BackendEntry, label: str) -> Storage:
    _check_entry_type(entry, label)
    if isinstance(entry, Storage):
        # default_storage and the like: use what it stands for, so what is
        # done to the backend (the cloud guards' protection) reaches it.
        return unwrap(entry)
    if isinstance(entry, str):
        if entry in getattr(settings, "STORAGES", {}):
            try:
                return storages[entry]
            except InvalidStorageError as exc:
                raise ImproperlyConfigured(
                    f"{label} entry {entry!r} cannot be built ({exc}); "
                    f"fix settings.STORAGES[{entry!r}]."
                ) from exc
        if "." not in entry:
            raise ImproperlyConfigured(
                f"{label} entry {entry!r} is not an alias in settings.STORAGES; "
                f"add it there or use a dotted class path."
            )
        return _instantiate(entry, {}, label)
    options = entry.get("OPTIONS", {})
    return _instantiate(entry["BACKEND"], dict(options), label)


def _instantiate(path: str, options: dict[str, Any], label: str) -> Storage:
    if path in _REMOVED_PATHS:
        raise ImproperlyConfigured(
            f"{label} entry {path!r} no longer exists in django-storages; "
            f"use {_REMOVED_PATHS[path]!r} instead."
        )
    try:
        storage_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"{label} entry {path!r} cannot be imported ({exc}); "
            f"fix the dotted path or install the package that provides it."
        ) from exc
    if not (isinstance(storage_class, type) and issubclass(storage_class, Storage)):
        raise ImproperlyConfigured(
            f"{label} entry {path!r} is not a storage class; "
            f"point it at a subclass of django.core.files.storage.Storage."
        )
    try:
        storage = storage_class(**options)
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"{label} entry {path!r} rejected its options {sorted(options)} ({exc}); "
            f"fix its OPTIONS."
        ) from exc
    return storage
