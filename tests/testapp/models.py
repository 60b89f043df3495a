from __future__ import annotations

from django.db import models

from fallback_storage.storage import FallbackStorage


class Document(models.Model):
    """A model whose files go through a FallbackStorage built from STORAGES aliases."""

    file = models.FileField(
        upload_to="documents/",
        storage=FallbackStorage(backends=["local", "prod"]),
    )
