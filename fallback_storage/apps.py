"""The Django app: install ``"fallback_storage"`` for the checks, the command, early protection.

When Django starts, :meth:`FallbackStorageConfig.ready` builds every storage
of this package configured in ``settings.STORAGES``, with all its layers, so
every cloud container a :class:`~fallback_storage.readonly.ReadOnlyStorage`
reaches is protected before the first request or command runs: even code that
uses the bare backend (``storages["prod"]``) before anything uses the wrapper
is refused. Without the app, protection starts when each ``ReadOnlyStorage``
is constructed (see :class:`~fallback_storage.storage.ReadOnlyStorage`).

A storage that cannot be built is left alone here: startup goes on, and the
system check ``fallback_storage.E002`` reports it.
"""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class FallbackStorageConfig(AppConfig):
    """Registers the system checks and protects the configured read-only storages."""

    name = "fallback_storage"
    verbose_name = "Fallback storage"

    def ready(self) -> None:
        from fallback_storage import checks

        checks.register()
        protect_configured_storages()


def protect_configured_storages() -> list[str]:
    """Build every storage of this package in ``settings.STORAGES``; return the aliases built."""
    from fallback_storage import cloud_guards
    from fallback_storage.readonly import ReadOnlyStorage
    from fallback_storage.storage import FallbackStorage

    built = []
    for alias, config in getattr(settings, "STORAGES", {}).items():
        backend = config.get("BACKEND") if isinstance(config, dict) else None
        try:
            storage_class = import_string(backend) if isinstance(backend, str) else None
        except ImportError:
            continue  # Django reports it at first use; it is not ours.
        if not (
            isinstance(storage_class, type)
            and issubclass(storage_class, (FallbackStorage, ReadOnlyStorage))
        ):
            continue
        try:
            # Walking builds every layer; each ReadOnlyStorage met protects what it wraps.
            for _ in cloud_guards.reachable(storages[alias]):
                pass
        except ImproperlyConfigured:
            continue  # check E002 reports it
        except Exception:
            logger.exception(
                "settings.STORAGES[%r] could not be built at startup; its read-only layers "
                "are protected at first use instead.",
                alias,
            )
            continue
        built.append(alias)
    return built
