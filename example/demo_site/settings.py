"""Settings of the demo site: a development copy whose media overlay a production S3 bucket.

The launcher (``run.py``) sets ``DEMO_STATE_DIR`` (database and local media) and
either ``DEMO_S3_ENDPOINT_URL`` (the embedded production bucket, read through S3)
or, with ``--http``, ``DEMO_PRODUCTION_HTTP_URL`` (the bucket's public URL, read
over plain HTTP with no credentials) before Django starts.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

try:
    STATE_DIR = Path(os.environ["DEMO_STATE_DIR"])
    PRODUCTION_HTTP_URL = os.environ.get("DEMO_PRODUCTION_HTTP_URL")
    S3_ENDPOINT_URL = "" if PRODUCTION_HTTP_URL else os.environ["DEMO_S3_ENDPOINT_URL"]
except KeyError as missing:
    raise ImproperlyConfigured(
        f"The demo settings need the environment variable {missing.args[0]}, which the "
        f"launcher sets; start the demo with `python3 dev.py demo` or `python example/run.py`."
    ) from None

SECRET_KEY = "NOTASECRET-demo-only"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.messages",
    "gallery",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": STATE_DIR / "db.sqlite3"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Local media: new uploads land here, and Django serves them (DEBUG only, see urls.py).
MEDIA_ROOT = STATE_DIR / "media"
MEDIA_URL = "/media/"

# The point of the demo. Files are looked up in the local media directory first,
# then in the production bucket, which is wrapped in ReadOnlyStorage: reads go
# through, every write is refused (down to the boto3 client), so writes land locally.
STORAGES = {
    "default": {
        "BACKEND": "fallback_storage.storage.FallbackStorage",
        "OPTIONS": {"backends": ["local", "production"]},
    },
    "local": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "production": {
        "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
        "OPTIONS": {
            "backend": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "demo-production",
                    "endpoint_url": S3_ENDPOINT_URL,
                    "region_name": "us-east-1",
                    "signature_version": "s3v4",
                    # Signed GET URLs, as for a private bucket; the browser loads
                    # them straight from the embedded S3 server.
                    "querystring_auth": True,
                },
            },
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if PRODUCTION_HTTP_URL:
    # `--http`: production is the bucket's public URL, as a CDN would serve it. HTTPStorage
    # sends only GET and HEAD and holds no credentials, so there is no write path at all;
    # the browser loads the images from the same URL.
    STORAGES["production"] = {
        "BACKEND": "fallback_storage.http.HTTPStorage",
        "OPTIONS": {"base_url": PRODUCTION_HTTP_URL, "timeout": 5},
    }

# django-debug-toolbar, when it is installed (`python3 dev.py demo` installs the package's
# `toolbar` extra), with fallback_storage's panel: each page's storage calls, the layer that
# answered each, the requests production received, and writes refused by the read-only layer.
TOOLBAR = importlib.util.find_spec("debug_toolbar") is not None
if TOOLBAR:
    # fallback_storage for the panel's template, staticfiles for the toolbar's own CSS and JS.
    INSTALLED_APPS += ["django.contrib.staticfiles", "fallback_storage", "debug_toolbar"]
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
    INTERNAL_IPS = ["127.0.0.1", "::1"]
    STATIC_URL = "/static/"
    # Collapsed to its handle, so the toolbar covers none of the gallery until it is opened.
    DEBUG_TOOLBAR_CONFIG = {"SHOW_COLLAPSED": True}
    DEBUG_TOOLBAR_PANELS = [
        "debug_toolbar.panels.history.HistoryPanel",
        "debug_toolbar.panels.timer.TimerPanel",
        "debug_toolbar.panels.request.RequestPanel",
        "debug_toolbar.panels.sql.SQLPanel",
        "debug_toolbar.panels.templates.TemplatesPanel",
        "fallback_storage.toolbar_panel.FallbackStoragePanel",
    ]
