"""A page that uses the default storage, with django-debug-toolbar's URLs (ROOT_URLCONF).

tests/test_toolbar_panel.py renders it with the toolbar on and reads the
FallbackStoragePanel's figures; the view's storage calls are fixed, so the
figures are known.
"""

from __future__ import annotations

from typing import cast

from debug_toolbar.toolbar import debug_toolbar_urls
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

from fallback_storage import FallbackStorage, ReadOnlyStorageError


def storage_page(request: HttpRequest) -> HttpResponse:
    found = default_storage.exists("prod-only.txt")  # the local layer, then production: found
    local = default_storage.exists("local.txt")  # the local layer has it
    size = default_storage.size("prod-only.txt")
    saved = default_storage.save("uploads/new.txt", ContentFile(b"new"))
    production = cast(FallbackStorage, default_storage).backends[1]
    try:
        production.delete("prod-only.txt")  # asked of the read-only layer directly: refused
    except ReadOnlyStorageError as error:
        refused = str(error)
    body = f"<p>{found} {local} {size} {saved}</p><p>{refused}</p>"
    return HttpResponse(f"<html><head><title>t</title></head><body>{body}</body></html>")


def no_storage(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<html><head><title>t</title></head><body>none</body></html>")


urlpatterns: list[URLPattern | URLResolver] = [
    path("storage-page/", storage_page),
    path("no-storage/", no_storage),
    *debug_toolbar_urls(),
]
