"""Django settings for the test suite (tests/ is on sys.path, so this is ``settings``)."""

from __future__ import annotations

SECRET_KEY = "NOTASECRET"
USE_TZ = True
DEBUG = False
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "fallback_storage",
    "testapp",
    # Real apps that use storages, for tests/test_real_apps.py.
    "easy_thumbnails",
    "sorl.thumbnail",
    # Only the models marked with @cleanup.select (mediaapp.Photo) get django-cleanup's handlers.
    "django_cleanup.apps.CleanupSelectedConfig",
    "mediaapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "mediaapp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# sorl-thumbnail stores thumbnails in this alias, which tests/test_real_apps.py defines.
THUMBNAIL_STORAGE = "media"
# easy-thumbnails and sorl-thumbnail both name a template tag library "thumbnail".
SILENCED_SYSTEM_CHECKS = ["templates.W003"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
