from __future__ import annotations

from django.contrib import admin

from mediaapp.models import Photo

admin.site.register(Photo)
