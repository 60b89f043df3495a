"""The README's snippets, run as settings, and the answers a newcomer reads in README and docs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.test import override_settings
from moto import mock_aws
from storages.backends.s3 import S3Storage

from fallback_storage import ReadOnlyStorageError
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage
from fallback_storage.testing import seeding

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "example-media"
INSTALLED_APPS_ANSWER = (
    'Add ``"fallback_storage"`` to ``INSTALLED_APPS`` for the system checks, the management '
    "command and protection from startup; the storages themselves work without it."
)


def text(path: str) -> str:
    return (ROOT / path).read_text()


def python_blocks(path: str) -> list[str]:
    """The ``.. code-block:: python`` blocks of a reStructuredText file, dedented."""
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text(path))
    return [re.sub(r"^    ", "", block, flags=re.MULTILINE) for block in blocks]


def settings_from(block: str, base_dir: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {"BASE_DIR": base_dir}
    exec(block, namespace)
    return {name: value for name, value in namespace.items() if name.isupper()}


def readme_snippet(containing: str, base_dir: Path) -> dict[str, Any]:
    [block] = [block for block in python_blocks("README.rst") if containing in block]
    return settings_from(block, base_dir)


@pytest.fixture
def bucket() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        with seeding(BUCKET):  # an earlier test may have protected the README's bucket
            client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key="photos/production.jpg", Body=b"production")
        yield client


def keys(client: Any, bucket: str = BUCKET) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_the_storages_snippet_reads_production_and_writes_locally_under_media_url(
    tmp_path: Path, bucket: Any
) -> None:
    configured = readme_snippet("STORAGES = {", tmp_path)["STORAGES"]
    # Under another alias than "default": Django 4.2's override_settings drops its OPTIONS.
    configured["media"] = configured.pop("default")
    configured["default"] = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
    # MEDIA_URL as Django has it by default: the local layer's URLs come from its base_url.
    with override_settings(STORAGES=configured, MEDIA_URL=""):
        storage = storages["media"]
        assert isinstance(storage, FallbackStorage)
        local, production = storage.backends
        assert isinstance(local, FileSystemStorage)
        assert isinstance(production, ReadOnlyStorage)
        assert isinstance(production.backend, S3Storage)
        assert production.backend.bucket_name == BUCKET

        saved = storage.save("photos/new.jpg", ContentFile(b"local"))
        assert (tmp_path / "media" / saved).read_bytes() == b"local"
        assert storage.url(saved) == f"/media/{saved}"
        with storage.open("photos/production.jpg") as handle:
            assert handle.read() == b"production"
    assert keys(bucket) == ["photos/production.jpg"]


@pytest.fixture
def failing_local_disk(tmp_path: Path) -> Path:
    """A MEDIA_ROOT under which no directory can be made: every local save fails."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the media directory should be")
    return blocker / "media"


def test_the_1x_snippet_never_writes_to_the_bucket_when_a_local_save_fails(
    failing_local_disk: Path, bucket: Any
) -> None:
    entries = readme_snippet("FALLBACK_STORAGES", failing_local_disk)["FALLBACK_STORAGES"]
    with override_settings(
        FALLBACK_STORAGES=entries,
        MEDIA_ROOT=str(failing_local_disk),
        AWS_STORAGE_BUCKET_NAME=BUCKET,
    ):
        storage = FallbackStorage()
        assert isinstance(storage.backends[-1], ReadOnlyStorage)
        with pytest.raises(OSError) as caught:
            storage.save("photos/new.jpg", ContentFile(b"local"))
    # The local failure is raised; the production layer refused the fallback write.
    assert isinstance(caught.value, NotADirectoryError)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert f"{ReadOnlyStorageError.__name__}: ReadOnlyStorage refused to save 'photos/new.jpg'" in (
        notes
    )
    assert keys(bucket) == ["photos/production.jpg"]


def test_the_raw_1x_form_writes_to_the_bucket_when_a_local_save_fails(
    failing_local_disk: Path,
) -> None:
    # What the README warns about, so the warning stays true. A bucket of its own: once a
    # ReadOnlyStorage protected the README's bucket, nothing in this process writes to it.
    unprotected = f"{BUCKET}-{uuid.uuid4().hex[:8]}"
    raw = ["django.core.files.storage.FileSystemStorage", "storages.backends.s3.S3Storage"]
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=unprotected)
        with override_settings(
            FALLBACK_STORAGES=raw,
            MEDIA_ROOT=str(failing_local_disk),
            AWS_STORAGE_BUCKET_NAME=unprotected,
        ):
            saved = FallbackStorage().save("photos/new.jpg", ContentFile(b"local"))
        assert keys(client, unprotected) == [saved]


@pytest.mark.parametrize("path", ["README.rst", "docs/quickstart.rst", "docs/tools.rst"])
def test_one_answer_about_installed_apps_everywhere(path: str) -> None:
    assert INSTALLED_APPS_ANSWER in " ".join(text(path).split())
    assert "nothing to add to ``INSTALLED_APPS``" not in " ".join(text(path).split())


@pytest.mark.parametrize("path", ["README.rst", "docs/quickstart.rst"])
def test_the_install_line_installs_this_version_with_its_s3_extra(path: str) -> None:
    assert "    pip install '.[s3]'\n" in text(path)
    assert "pip install django-fallback-storage[s3]" not in text(path)
    assert "s3" in (metadata("django-fallback-storage").get_all("Provides-Extra") or [])


def test_the_quickstart_says_what_deleting_a_production_only_file_does() -> None:
    quickstart = " ".join(text("docs/quickstart.rst").split())
    assert "raises :class:`~fallback_storage.exceptions.ReadOnlyStorageError` for a file" not in (
        quickstart
    )
    assert "For a file that exists only in production it hides the file" in quickstart
