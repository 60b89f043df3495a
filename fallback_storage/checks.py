"""Django system checks, run by ``manage.py check`` when ``"fallback_storage"`` is installed.

IDs in use (never reuse one):

* ``fallback_storage.E001``: a FallbackStorage has no writable backend.
* ``fallback_storage.E002``: a storage of this package in settings.STORAGES cannot be built.
* ``fallback_storage.W001``: a cloud backend inside a FallbackStorage is writable while DEBUG is on.
* ``fallback_storage.W002``: settings.DEFAULT_FILE_STORAGE is set, but this Django ignores it.
* ``fallback_storage.W003``: settings.FALLBACK_STORAGES is set, but this Django ignores
  DEFAULT_FILE_STORAGE and no FallbackStorage in settings.STORAGES reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import django
from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

from fallback_storage import cloud_guards, s3_guard
from fallback_storage.readonly import ReadOnlyStorage
from fallback_storage.storage import FallbackStorage

__all__ = ["check_legacy_settings", "check_storages", "register", "s3_guard_is_on"]

TAG = "fallback_storage"
FALLBACK_PATH = "fallback_storage.storage.FallbackStorage"
# Django 5.1 removed DEFAULT_FILE_STORAGE (deprecated in 4.2).
IGNORES_DEFAULT_FILE_STORAGE = django.VERSION >= (5, 1)


def s3_guard_is_on(storage: object) -> bool:
    """Whether ``fallback_storage.s3_guard.protect()`` guards this ``S3Storage``'s clients.

    Kept for compatibility; it is :func:`fallback_storage.s3_guard.is_protected`.
    """
    return s3_guard.is_protected(storage)


def register() -> None:
    """Register the checks (done by the app's ``ready()``)."""
    checks.register(check_storages, checks.Tags.files, TAG)
    checks.register(check_legacy_settings, checks.Tags.compatibility, TAG)


def check_storages(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Build every storage of this package in settings.STORAGES and inspect its layers."""
    messages: list[checks.CheckMessage] = []
    for alias, config in getattr(settings, "STORAGES", {}).items():
        storage_class = _package_class(config)
        if storage_class is None:
            continue
        label = f"settings.STORAGES[{alias!r}]"
        try:
            storage = storages.create_storage(config)
            layers = _layers(storage)
        except ImproperlyConfigured as error:
            messages.append(
                checks.Error(
                    f"{label} cannot be built: {error}",
                    hint="Fix the entry the message names; without this check Django would "
                    "raise it at the first request that uses the storage.",
                    id="fallback_storage.E002",
                )
            )
            continue
        if isinstance(storage, FallbackStorage):
            messages.extend(_check_fallback(storage, label, layers))
        messages.extend(_check_writable_cloud(storage, label))
    return messages


def check_legacy_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn about the 1.x settings on a Django that ignores ``DEFAULT_FILE_STORAGE``."""
    if not IGNORES_DEFAULT_FILE_STORAGE:
        return []
    messages: list[checks.CheckMessage] = []
    default = settings.STORAGES.get("default") or {}
    default_backend = default.get("BACKEND")
    if hasattr(settings, "DEFAULT_FILE_STORAGE"):
        legacy = getattr(settings, "DEFAULT_FILE_STORAGE", None)
        messages.append(
            checks.Warning(
                f"settings.DEFAULT_FILE_STORAGE is {legacy!r}, but Django "
                f"{django.get_version()} ignores it, so the default storage is "
                f"{default_backend!r}.",
                hint=_default_file_storage_hint(legacy, default),
                id="fallback_storage.W002",
            )
        )
    if hasattr(settings, "FALLBACK_STORAGES") and not _reads_fallback_storages():
        entries = getattr(settings, "FALLBACK_STORAGES", None)
        messages.append(
            checks.Warning(
                f"settings.FALLBACK_STORAGES is {entries!r}, but no FallbackStorage in "
                f"settings.STORAGES reads it (Django {django.get_version()} ignores "
                f"DEFAULT_FILE_STORAGE).",
                hint=_fallback_storages_hint(entries, default),
                id="fallback_storage.W003",
            )
        )
    return messages


def _default_file_storage_hint(legacy: object, default: dict[str, Any]) -> str:
    # The hint never drops what STORAGES["default"] already has: its OPTIONS stay.
    backend = default.get("BACKEND")
    if legacy == backend:
        return f'Delete DEFAULT_FILE_STORAGE: STORAGES["default"] already uses {legacy!r}.'
    options = default.get("OPTIONS")
    if not options:
        return (
            f'Set STORAGES["default"] = {{"BACKEND": {legacy!r}}} and delete DEFAULT_FILE_STORAGE.'
        )
    return (
        f"Delete DEFAULT_FILE_STORAGE to keep {backend!r}, or set "
        f'STORAGES["default"]["BACKEND"] = {legacy!r} and adapt its OPTIONS {options!r} '
        f"to that class."
    )


def _fallback_storages_hint(entries: object, default: dict[str, Any]) -> str:
    # A FallbackStorage that lists its own backends already replaces FALLBACK_STORAGES: the
    # hint must not swap those (a ReadOnlyStorage layer, say) for the 1.x entries.
    for alias, config in settings.STORAGES.items():
        storage_class = _package_class(config)
        if storage_class is not None and issubclass(storage_class, FallbackStorage):
            return (
                f"Delete FALLBACK_STORAGES: settings.STORAGES[{alias!r}] already lists the "
                f"backends of its FallbackStorage."
            )
    backends: Any = entries
    if isinstance(entries, (list, tuple)):
        # The entry that names the current default backend keeps that entry's OPTIONS.
        backends = [
            dict(default) if entry == default.get("BACKEND") and default.get("OPTIONS") else entry
            for entry in entries
        ]
    replacement = {"BACKEND": FALLBACK_PATH, "OPTIONS": {"backends": backends}}
    return f'Set STORAGES["default"] = {replacement!r} and delete FALLBACK_STORAGES.'


def _package_class(config: object) -> type[Storage] | None:
    backend = config.get("BACKEND") if isinstance(config, dict) else None
    if not isinstance(backend, str):
        return None
    try:
        storage_class = import_string(backend)
    except ImportError:
        return None  # Django reports it at first use; it is not ours.
    # FallbackStorage, ReadOnlyStorage, HTTPStorage: any storage class this package defines.
    if (
        isinstance(storage_class, type)
        and issubclass(storage_class, Storage)
        and storage_class.__module__.startswith("fallback_storage.")
    ):
        return storage_class
    return None


def _reads_fallback_storages() -> bool:
    for config in settings.STORAGES.values():
        storage_class = _package_class(config)
        options: Any = config.get("OPTIONS") or {}
        if (
            storage_class is not None
            and issubclass(storage_class, FallbackStorage)
            and "backends" not in options
        ):
            return True
    return False


def _layers(storage: Storage) -> tuple[Storage, ...]:
    """Build ``storage``'s backends now (raising ImproperlyConfigured) and return them."""
    if isinstance(storage, FallbackStorage):
        return storage.backends
    if isinstance(storage, ReadOnlyStorage):
        return (storage.backend,)
    return ()


def _check_fallback(
    storage: FallbackStorage, label: str, layers: tuple[Storage, ...]
) -> Iterator[checks.CheckMessage]:
    if storage.read_only:
        described = ", ".join(type(layer).__qualname__ for layer in layers)
        yield checks.Error(
            f"{label} is a FallbackStorage with no writable backend ({described}), so every "
            f"save and delete fails.",
            hint="Add a writable backend before the read-only ones, e.g. a FileSystemStorage "
            "on a local directory.",
            id="fallback_storage.E001",
        )


def _check_writable_cloud(storage: Storage, label: str) -> Iterator[checks.CheckMessage]:
    """W001: every cloud layer inside a FallbackStorage, at any depth, that is not protected."""
    if not settings.DEBUG:
        return
    layers = dict(cloud_guards.walk(storage))
    for path, layer in layers.items():
        guard = cloud_guards.guard_for(layer)
        inside_fallback = any(
            isinstance(layers[path[:depth]], FallbackStorage) for depth in range(len(path))
        )
        if guard is None or not inside_fallback or guard.is_protected(layer):
            continue
        where = label + "".join(f" backend {index}" for index in path)
        yield checks.Warning(
            f"{where} is a writable cloud backend ({guard.describe(layer)}) in a "
            f"FallbackStorage while DEBUG is on, so development can write to it.",
            hint='Wrap it in ReadOnlyStorage: {"BACKEND": '
            '"fallback_storage.storage.ReadOnlyStorage", "OPTIONS": {"backend": ...}}.',
            id="fallback_storage.W001",
        )
