"""Image models on the development storage, ``mediaapp.storage.MediaStorage``."""

from __future__ import annotations

from django.db import models
from django_cleanup import cleanup
from easy_thumbnails.fields import ThumbnailerImageField

from mediaapp.storage import MediaStorage

media = MediaStorage()


class Photo(models.Model):
    """A photo as production's database has it: django-cleanup deletes its replaced files."""

    image = models.ImageField(
        upload_to="photos/", storage=media, width_field="width", height_field="height"
    )
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)


cleanup.select(Photo)  # not as a decorator: django-cleanup is untyped, the model would be Any


class Picture(models.Model):
    """An image with easy-thumbnails' field, whose thumbnails go to the same storage."""

    image = ThumbnailerImageField(upload_to="pictures/", storage=media, thumbnail_storage=media)


class Attachment(models.Model):
    """A file on the default storage: django-cleanup (all models) builds that storage in ready()."""

    file = models.FileField(upload_to="attachments/")
