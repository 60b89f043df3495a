"""The suite's settings with django-cleanup on every model and a misconfigured default storage.

django-cleanup (all models, not only selected ones) builds the storage of every FileField in its
``ready()``; ``mediaapp.Attachment`` uses the default storage, whose FallbackStorage has an
unknown option. ``tests/test_checks.py`` runs ``manage.py check`` with these settings.
"""

from __future__ import annotations

from typing import Any

from settings import (
    DATABASES,
    DEFAULT_AUTO_FIELD,
    INSTALLED_APPS,
    MEDIA_URL,
    MIDDLEWARE,
    ROOT_URLCONF,
    SECRET_KEY,
    SILENCED_SYSTEM_CHECKS,
    STATIC_URL,
    TEMPLATES,
    THUMBNAIL_STORAGE,
    USE_TZ,
)

__all__ = [
    "DATABASES",
    "DEFAULT_AUTO_FIELD",
    "INSTALLED_APPS",
    "MEDIA_URL",
    "MIDDLEWARE",
    "ROOT_URLCONF",
    "SECRET_KEY",
    "SILENCED_SYSTEM_CHECKS",
    "STATIC_URL",
    "STORAGES",
    "TEMPLATES",
    "THUMBNAIL_STORAGE",
    "USE_TZ",
]

INSTALLED_APPS = [
    "django_cleanup" if app == "django_cleanup.apps.CleanupSelectedConfig" else app
    for app in INSTALLED_APPS
]
STORAGES: dict[str, Any] = {
    "default": {
        "BACKEND": "fallback_storage.storage.FallbackStorage",
        "OPTIONS": {
            "backends": ["django.core.files.storage.InMemoryStorage"],
            "white_outs": True,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
