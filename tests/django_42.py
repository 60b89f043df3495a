"""Known failures on Django 4.2, marked so the oldest cell of the matrix stays a real gate.

Until 2026-12-03 the ``django42`` tox environments installed Django 5.2: pip upgraded the
pinned 4.2 when it installed the package's extras (django-debug-toolbar 8 needs Django 5), so
no test had run on Django 4.2. Since tox installs with uv, they get the Django they name, and
these tests fail there. Each mark is strict: the day a test passes on 4.2, its mark fails the run
and must go.
"""

from __future__ import annotations

import django
import pytest
from django.core.exceptions import ImproperlyConfigured

__all__ = ["OVERRIDE_DROPS_OPTIONS", "PROGRESS_BAR_IN_ASCII"]

ON_DJANGO_42 = django.VERSION < (5, 0)

# docs/recipes.rst: on Django 4.2, override_settings(STORAGES=...) drops the OPTIONS of the
# "default" and "staticfiles" aliases, so a ReadOnlyStorage or FallbackStorage under one of those
# aliases is built with no options. These tests need those aliases and must be rewritten for 4.2.
OVERRIDE_DROPS_OPTIONS = pytest.mark.xfail(
    ON_DJANGO_42,
    reason="Django 4.2's override_settings(STORAGES=...) drops the OPTIONS of 'default' and "
    "'staticfiles' (docs/recipes.rst); this test needs those aliases",
    raises=(ImproperlyConfigured, ValueError, AssertionError),
    strict=True,
)

# Not investigated yet: on Django 4.2 tqdm draws the bar of the pull command with '#', not '█'.
PROGRESS_BAR_IN_ASCII = pytest.mark.xfail(
    ON_DJANGO_42,
    reason="on Django 4.2 the pull command's progress bar is drawn in ASCII; not investigated",
    raises=AssertionError,
    strict=True,
)
