"""Settings for Django's own storage tests: as small as the suite's, plus Django's test app.

``FALLBACK_STORAGE_DJANGO_TESTS`` names the directory ``fetch.py`` extracted
Django's ``tests/file_storage/`` into; it goes on ``sys.path`` so that the
package imports as ``file_storage``, the name its models' app label needs.
"""

from __future__ import annotations

import os
import sys

from django.core.exceptions import ImproperlyConfigured

DEBUG = False
# As in Django's own test settings (tests/test_sqlite.py): the time getters' tests compare with
# naive local datetimes.
USE_TZ = False
SOURCE = os.environ.get("FALLBACK_STORAGE_DJANGO_TESTS", "")
if not os.path.isfile(os.path.join(SOURCE, "file_storage", "tests.py")):
    raise ImproperlyConfigured(
        f"FALLBACK_STORAGE_DJANGO_TESTS is {SOURCE!r}, which has no file_storage/tests.py; "
        f"run `python3 dev.py tox -e djangotests-django52`, which fetches Django's tests first."
    )
sys.path.insert(0, SOURCE)
SECRET_KEY = "NOTASECRET"
# file_storage/models.py defines a model, so its package must be an installed app.
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "file_storage"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
