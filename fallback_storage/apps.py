"""The Django app: install ``"fallback_storage"`` for the system checks and the command."""

from __future__ import annotations

from django.apps import AppConfig


class FallbackStorageConfig(AppConfig):
    """Registers the system checks of :mod:`fallback_storage.checks`."""

    name = "fallback_storage"
    verbose_name = "Fallback storage"

    def ready(self) -> None:
        from fallback_storage import checks

        checks.register()
