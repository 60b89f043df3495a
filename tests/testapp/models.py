from __future__ import annotations

from django.db import models

from fallback_storage.storage import FallbackStorage


class Document(models.Model):
    """A model whose files go through a FallbackStorage built from STORAGES aliases."""

    file = models.FileField(
        upload_to="documents/",
        storage=FallbackStorage(backends=["local", "prod"]),
    )


class Report(models.Model):
    """A model with two file fields and a date, for ``fallback_storage pull --model``."""

    title = models.CharField(max_length=100)
    created = models.DateField()
    pdf = models.FileField(
        upload_to="reports/", storage=FallbackStorage(backends=["local", "prod"])
    )
    attachment = models.FileField(
        upload_to="attachments/", blank=True, storage=FallbackStorage(backends=["local", "prod"])
    )
