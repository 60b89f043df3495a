from __future__ import annotations

from django.core.validators import FileExtensionValidator
from django.db import models

IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "gif", "webp"]


class Photo(models.Model):
    """A photo; its file lives wherever the default storage finds it."""

    title = models.CharField(max_length=100)
    # No storage argument: the default storage, FallbackStorage, from settings.STORAGES.
    image = models.FileField(
        upload_to="photos/", validators=[FileExtensionValidator(IMAGE_EXTENSIONS)]
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title
