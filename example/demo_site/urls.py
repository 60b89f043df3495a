from __future__ import annotations

from django.conf import settings
from django.conf.urls.static import static
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("gallery.urls")),
    # Local media, served by Django because DEBUG is on (static() adds nothing otherwise).
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
if settings.TOOLBAR:  # django-debug-toolbar is installed (see settings.py)
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
