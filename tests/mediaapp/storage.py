"""The development site's media storage, a project's own subclass of FallbackStorage."""

from __future__ import annotations

from typing import Any

from django.utils.deconstruct import deconstructible

from fallback_storage.storage import FallbackStorage


@deconstructible(path="mediaapp.storage.MediaStorage")
class MediaStorage(FallbackStorage):
    """Local files first, read-only production behind: the aliases ``"media-local"`` and
    ``"media-production"``, which the tests define in ``settings.STORAGES``.

    Another alias than ``"default"``, because on Django 4.2 ``override_settings(STORAGES=...)``
    drops the ``OPTIONS`` of ``"default"`` (docs/recipes.rst). A class of its own, because
    sorl-thumbnail and easy-thumbnails record a storage by its class and build it again
    without arguments.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("backends", ["media-local", "media-production"])
        super().__init__(**options)
