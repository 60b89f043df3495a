"""Real apps on a development configuration: easy-thumbnails, sorl-thumbnail, django-cleanup and
the Django admin, over a production bucket they must never change (issue 14).

The configuration is the one users copy: a local ``FileSystemStorage`` first and the production
S3 bucket (a ``ThreadedMotoServer`` on 127.0.0.1) wrapped in ``ReadOnlyStorage`` behind it, in a
``FallbackStorage`` (``mediaapp.models.media`` and the ``"media"`` alias). Rows are created as a
copy of production's database has them, pointing at files only the bucket has. Every test ends
with ``production.assert_untouched()``: only GET and HEAD reached the bucket (its access log) and
its keys, ETags and LastModified, read with a separate unprotected client, are unchanged.

Tests marked ``xfail(strict=True, reason="core: ...")`` state the behaviour the issue requires
and fail today because of the core; remove the marker when the core is fixed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import production as shared
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils.functional import empty
from django_cleanup.signals import cleanup_post_delete
from easy_thumbnails.files import get_thumbnailer
from easy_thumbnails.models import Source
from easy_thumbnails.signals import thumbnail_created
from freezegun import freeze_time
from mediaapp.models import Photo, Picture, media
from PIL import Image
from production import Production, over_http
from sorl.thumbnail import default as sorl_default
from sorl.thumbnail import delete as sorl_delete
from sorl.thumbnail import get_thumbnail

from fallback_storage.whiteouts import MARKER_PREFIX

moto_server = shared.moto_server
pytestmark = pytest.mark.django_db

FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"
BLUE = (0, 0, 255)
RED = (255, 0, 0)
THUMBNAIL = {"size": (20, 20)}


def image(
    colour: tuple[int, int, int], size: tuple[int, int] = (64, 48), kind: str = "JPEG"
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


def colour_of(data: bytes) -> str:
    """The dominant colour of an image, "blue" or "red" (JPEG blurs exact values)."""
    with Image.open(io.BytesIO(data)) as picture:
        pixel = picture.convert("RGB").getpixel((picture.width // 2, picture.height // 2))
    assert isinstance(pixel, tuple)
    red, _, blue = pixel
    return "blue" if blue > red else "red"


ORIGINALS = {
    "photos/original.jpg": image(BLUE),
    "pictures/original.jpg": image(BLUE),
}


@dataclass
class Dev:
    """The development site: its local media directory and the production bucket behind it."""

    local: Path
    production: Production

    def local_files(self, under: str = "") -> set[str]:
        """The files in the local media directory, without whiteout markers."""
        root = self.local / under
        return {
            path.relative_to(self.local).as_posix()
            for path in root.rglob("*")
            if path.is_file() and not path.name.startswith(MARKER_PREFIX)
        }

    def put_in_production(self, key: str, body: bytes, at: str | None = None) -> None:
        """Add ``key`` to the bucket (seeding, not the site), then restart the recording."""
        with freeze_time(at) if at else contextlib.nullcontext():
            self.production.add({key: body})


def dev_storages(local: Path, production: Production) -> dict[str, Any]:
    dev = {"BACKEND": "mediaapp.storage.MediaStorage"}
    return {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "media-local": {
            "BACKEND": FILE_SYSTEM,
            "OPTIONS": {"location": str(local), "base_url": "/media/"},
        },
        "media-production": {
            "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
            "OPTIONS": {
                "backend": {
                    "BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": production.options,
                }
            },
        },
        # sorl-thumbnail's THUMBNAIL_STORAGE and easy-thumbnails' THUMBNAIL_DEFAULT_STORAGE_ALIAS.
        "media": dev,
        "easy_thumbnails": dev,
    }


@pytest.fixture
def dev(moto_server: str, tmp_path: Path) -> Iterator[Dev]:
    local = tmp_path / "media"
    local.mkdir()
    for production in over_http(moto_server, ORIGINALS):
        production.before = production.snapshot()
        with override_settings(STORAGES=dev_storages(local, production), MEDIA_ROOT=str(local)):
            # sorl keeps the storage it built, and its key-value store in the cache as well as
            # in the database (which each test rolls back).
            sorl_default.storage._wrapped = empty
            cache.clear()
            yield Dev(local, production)
            sorl_default.storage._wrapped = empty
            cache.clear()


def read(name: str) -> bytes:
    with media.open(name, "rb") as handle:
        content: bytes = handle.read()
    return content


# -- easy-thumbnails ---------------------------------------------------------------------------


@pytest.fixture
def created_thumbnails() -> Iterator[list[str]]:
    names: list[str] = []

    def record(sender: Any, **kwargs: Any) -> None:
        names.append(sender.name)

    thumbnail_created.connect(record)
    yield names
    thumbnail_created.disconnect(record)


def test_easy_thumbnails_makes_a_production_originals_thumbnail_once_and_locally(
    dev: Dev, created_thumbnails: list[str]
) -> None:
    picture = Picture.objects.create(image="pictures/original.jpg")
    first = get_thumbnailer(picture.image).get_thumbnail(THUMBNAIL)
    # A second page view, from a fresh row.
    again = get_thumbnailer(Picture.objects.get(pk=picture.pk).image).get_thumbnail(THUMBNAIL)

    assert first.name == again.name == "pictures/original.jpg.20x20_q85.jpg"
    assert created_thumbnails == [first.name]
    assert dev.local_files() == {first.name}
    with Image.open(dev.local / first.name) as made:
        assert max(made.size) == 20
    assert colour_of((dev.local / first.name).read_bytes()) == "blue"
    assert media.url(first.name) == f"/media/{first.name}"
    dev.production.assert_untouched()


def test_easy_thumbnails_replaces_a_stale_production_thumbnail_with_one_local_file(
    dev: Dev, created_thumbnails: list[str]
) -> None:
    # Production's thumbnail was made before production's original was replaced: it is stale.
    name = "pictures/original.jpg.20x20_q85.jpg"
    dev.put_in_production(name, image(RED, (20, 15)), at="2020-01-01")
    dev.put_in_production("pictures/original.jpg", image(BLUE), at="2021-01-01")
    picture = Picture.objects.create(image="pictures/original.jpg")

    for _ in range(3):  # three page views
        thumbnail = get_thumbnailer(Picture.objects.get(pk=picture.pk).image).get_thumbnail(
            THUMBNAIL
        )
        assert thumbnail.name == name

    # easy-thumbnails deletes the stale thumbnail and saves the new one under the same name.
    assert created_thumbnails == [name]
    assert dev.local_files() == {name}
    assert colour_of(read(name)) == "blue"
    assert media.url(name) == f"/media/{name}"
    dev.production.assert_untouched()


def test_easy_thumbnails_cleanup_removes_thumbnails_of_missing_sources_only(dev: Dev) -> None:
    kept = Picture.objects.create(image="pictures/original.jpg")
    kept_thumbnail = get_thumbnailer(kept.image).get_thumbnail(THUMBNAIL).name
    (dev.local / "pictures").mkdir(exist_ok=True)
    (dev.local / "pictures" / "gone.jpg").write_bytes(image(RED))
    gone = Picture.objects.create(image="pictures/gone.jpg")
    gone_thumbnail = get_thumbnailer(gone.image).get_thumbnail(THUMBNAIL).name
    (dev.local / "pictures" / "gone.jpg").unlink()  # the original is gone, its thumbnail is not

    output, errors = io.StringIO(), io.StringIO()
    call_command("thumbnail_cleanup", stdout=output, stderr=errors)

    assert errors.getvalue() == ""
    assert dev.local_files() == {kept_thumbnail}
    assert not media.exists(gone_thumbnail)
    assert [source.name for source in Source.objects.all()] == ["pictures/original.jpg"]
    dev.production.assert_untouched()


# -- sorl-thumbnail ----------------------------------------------------------------------------


def production_photo() -> Photo:
    photo: Photo = Photo.objects.create(image="photos/original.jpg", width=64, height=48)
    return photo


def test_sorl_thumbnail_makes_a_production_originals_thumbnail_once_and_locally(
    dev: Dev,
) -> None:
    photo = production_photo()
    first = get_thumbnail(photo.image, "20x20")
    made = dev.local_files()
    modified = os.stat(dev.local / first.name).st_mtime_ns
    again = get_thumbnail(Photo.objects.get(pk=photo.pk).image, "20x20")

    assert again.name == first.name
    assert first.name.startswith("cache/")
    assert made == dev.local_files() == {first.name}
    assert os.stat(dev.local / first.name).st_mtime_ns == modified  # not made again
    assert colour_of((dev.local / first.name).read_bytes()) == "blue"
    assert first.url == f"/media/{first.name}"
    dev.production.assert_untouched()


def test_sorl_thumbnail_replaces_a_stale_production_thumbnail_with_one_local_file(
    dev: Dev,
) -> None:
    photo = production_photo()
    name = get_thumbnail(photo.image, "20x20").name
    # Production has that thumbnail, stale; the development site does not have it yet.
    (dev.local / name).unlink()
    dev.put_in_production(name, image(RED, (20, 15)))

    # The source changed: sorl forgets its thumbnails and deletes their files.
    sorl_delete(photo.image, delete_file=False)
    for _ in range(2):
        thumbnail = get_thumbnail(Photo.objects.get(pk=photo.pk).image, "20x20")
        assert thumbnail.name == name

    assert dev.local_files() == {name}
    assert colour_of(read(name)) == "blue"
    dev.production.assert_untouched()


def test_sorl_thumbnail_cleanup_command_runs(dev: Dev) -> None:
    photo = production_photo()
    name = get_thumbnail(photo.image, "20x20").name

    call_command("thumbnail", "cleanup", stdout=io.StringIO())

    # The source exists (in production), so its thumbnail is still known and served locally.
    assert get_thumbnail(photo.image, "20x20").name == name
    assert dev.local_files() == {name}
    dev.production.assert_untouched()


def storage_files(storage: Any, directory: str) -> list[str]:
    """Every file the storage lists under ``directory``, at any depth."""
    directories, files = storage.listdir(directory)
    found = [f"{directory}/{name}" for name in files]
    for name in directories:
        found.extend(storage_files(storage, f"{directory}/{name}"))
    return found


def test_sorl_thumbnail_clear_delete_all_runs_and_deletes_the_local_thumbnails(dev: Dev) -> None:
    photo = production_photo()
    get_thumbnail(photo.image, "20x20")
    dev.put_in_production("cache/aa/bb/from-production.jpg", image(RED, (20, 15)))

    call_command("thumbnail", "clear_delete_all", stdout=io.StringIO())

    assert dev.local_files("cache") == set()
    assert storage_files(media, "cache") == []  # the production thumbnail is hidden too
    dev.production.assert_untouched()


# -- django-cleanup ----------------------------------------------------------------------------


@pytest.fixture
def cleanups() -> Iterator[list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        events.append(kwargs)

    cleanup_post_delete.connect(record)
    yield events
    cleanup_post_delete.disconnect(record)


def cleaned(events: list[dict[str, Any]]) -> list[tuple[str, bool, object]]:
    return [(event["file_name"], event["success"], event["error"]) for event in events]


def replace(photo: Photo) -> None:
    photo.image = SimpleUploadedFile("new.png", image(RED, (30, 20), "PNG"))
    photo.save()


def test_django_cleanup_replacing_a_production_file_keeps_it_in_production(
    dev: Dev,
    cleanups: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    photo = production_photo()
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        replace(photo)

    assert cleaned(cleanups) == [("photos/original.jpg", True, None)]
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert photo.image.name == "photos/new.png"
    assert (photo.width, photo.height) == (30, 20)
    assert dev.local_files() == {"photos/new.png"}
    dev.production.assert_untouched()  # production keeps the replaced file


def test_django_cleanup_deleting_a_production_row_keeps_the_file_in_production(
    dev: Dev,
    cleanups: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    photo = production_photo()
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        photo.delete()

    assert cleaned(cleanups) == [("photos/original.jpg", True, None)]
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert dev.local_files() == set()
    dev.production.assert_untouched()


@pytest.mark.parametrize("action", ["replace", "delete"])
def test_django_cleanup_leaves_no_trace_of_the_deleted_production_file(
    dev: Dev, action: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    photo = production_photo()
    with django_capture_on_commit_callbacks(execute=True):
        replace(photo) if action == "replace" else photo.delete()

    assert not media.exists("photos/original.jpg")
    assert "original.jpg" not in media.listdir("photos")[1]
    # The name is free again: a new upload keeps it.
    again = Photo(image=SimpleUploadedFile("original.jpg", image(RED)))
    again.save()
    assert again.image.name == "photos/original.jpg"
    assert colour_of(read("photos/original.jpg")) == "red"
    dev.production.assert_untouched()


# -- the Django admin --------------------------------------------------------------------------


@pytest.fixture
def admin_client_logged_in() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "unused"))
    return client


@pytest.mark.parametrize("upload_name", ["upload.png", "original.jpg"])
def test_admin_upload_into_an_image_field_lands_locally(
    dev: Dev, admin_client_logged_in: Client, upload_name: str
) -> None:
    content = image(RED, (30, 20), "PNG")
    upload = SimpleUploadedFile(upload_name, content, content_type="image/png")

    response = admin_client_logged_in.post(
        "/admin/mediaapp/photo/add/", {"image": upload, "width": "", "height": ""}
    )

    assert response.status_code == 302, response.content.decode()
    photo = Photo.objects.get()
    assert (photo.width, photo.height) == (30, 20)
    # "original.jpg" is taken in production: the upload gets another name, never overwrites.
    assert photo.image.name != "photos/original.jpg"
    assert photo.image.name.startswith(f"photos/{upload_name.split('.')[0]}")
    assert dev.local_files() == {photo.image.name}
    assert (dev.local / photo.image.name).read_bytes() == content
    assert photo.image.url == f"/media/{photo.image.name}"
    dev.production.assert_untouched()
