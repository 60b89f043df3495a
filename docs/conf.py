"""Sphinx configuration for django-fallback-storage."""

from __future__ import annotations

import builtins
from pathlib import Path

import django
import tomllib
from django.conf import settings

# autodoc imports the package, some of whose modules need configured settings.
if not settings.configured:
    settings.configure(
        SECRET_KEY="docs-build-only",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        USE_TZ=True,
    )
    django.setup()

_PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())

project = "django-fallback-storage"
author = "django-fallback-storage contributors"
copyright = f"2026, {author}"
release = _PYPROJECT["project"]["version"]
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]
html_theme = "furo"
html_title = f"{project} {release}"
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
# Only "show-inheritance": a default of "members": True would replace every directive's own list
# of members (Sphinx applies a non-string default over the directive's value).
autodoc_default_options = {"show-inheritance": True}
autodoc_typehints = "description"

# The build is offline (no intersphinx inventories) and runs with -n, so references to Python's
# and other projects' objects cannot resolve; ignore those, and keep every reference to this
# package's own objects checked.
nitpick_ignore = [("py:class", name) for name in dir(builtins)] + [
    ("py:exc", name) for name in dir(builtins)
]
# A type alias autodoc shows unqualified in signatures; it is documented in
# fallback_storage.backends.
nitpick_ignore.append(("py:class", "BackendEntry"))
nitpick_ignore_regex = [
    (r"py:.*", r"(django|storages|boto3|botocore|mypy_boto3_s3|urllib3|debug_toolbar)(\..*)?"),
    (
        r"py:.*",
        r"(typing|collections|os|io|datetime|pathlib|threading|contextlib|abc|types|fnmatch)"
        r"(\..*)?",
    ),
    (r"py:.*", r"(IO|Any|Callable|Iterator|Sequence|Mapping|Storage|File|datetime|T)"),
    # Members django-debug-toolbar's Panel documents (the panel inherits their docstrings).
    (r"py:meth", r"(record_stats|process_request|generate_stats)"),
]
