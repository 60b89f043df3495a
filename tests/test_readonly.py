"""ReadOnlyStorage at the storage API: reads delegated, writes refused before the backend.

What it lends of its backend is in ``test_lending.py``, its read handles in
``test_read_only_files.py``, its URL rules in ``test_write_urls.py``, the protection of the
cloud containers it reaches in ``test_s3_guard.py`` and ``test_read_only_breaches.py``.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.db.migrations.writer import MigrationWriter
from django.test import override_settings
from storages.backends.s3 import S3Storage

from fallback_storage import OperationNotImplemented, ReadOnlyStorageError, s3_guard
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage


@pytest.fixture
def seeded(prod: FileSystemStorage) -> FileSystemStorage:
    prod.save("dir/a.txt", ContentFile(b"alpha"))
    prod.save("b.txt", ContentFile(b"beta"))
    return prod


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_reads_are_delegated(seeded: FileSystemStorage) -> None:
    storage = ReadOnlyStorage(seeded)

    with storage.open("dir/a.txt") as handle:
        assert handle.read() == b"alpha"
    with storage.open("b.txt", "r") as handle:
        assert handle.read() == "beta"
    assert storage.exists("b.txt") and not storage.exists("c.txt")
    assert storage.listdir("") == (["dir"], ["b.txt"])
    assert storage.size("dir/a.txt") == 5
    assert storage.url("b.txt") == "https://prod.example/b.txt"
    assert storage.path("b.txt") == seeded.path("b.txt")
    assert storage.get_modified_time("b.txt") == seeded.get_modified_time("b.txt")
    assert storage.get_accessed_time("b.txt") == seeded.get_accessed_time("b.txt")
    assert storage.get_created_time("b.txt") == seeded.get_created_time("b.txt")
    assert storage.get_valid_name("a b.txt") == "a_b.txt"
    assert storage.generate_filename("d/a b.txt") == "d/a_b.txt"
    assert storage.get_available_name("new.txt") == "new.txt"
    assert storage.get_available_name("b.txt") != "b.txt"
    assert storage.get_alternative_name("x", ".txt").startswith("x_")
    if django.VERSION >= (5, 1):
        assert storage.is_name_available("b.txt") is False
    else:
        with pytest.raises(OperationNotImplemented) as caught:
            storage.is_name_available("b.txt")
        assert str(caught.value) == (
            "FileSystemStorage has no is_name_available(); "
            "this Django version or backend does not provide it."
        )


@pytest.mark.parametrize("mode", ["w", "wb", "a", "ab", "x", "r+", "rb+", "w+b"])
def test_every_mode_that_can_write_is_refused(
    seeded: FileSystemStorage, prod_dir: Path, mode: str
) -> None:
    before = snapshot(prod_dir)
    storage = ReadOnlyStorage(seeded)

    with pytest.raises(ReadOnlyStorageError) as caught:
        storage.open("b.txt", mode)

    assert caught.value.operation == f"open (mode {mode!r})"
    assert snapshot(prod_dir) == before


def test_save_and_delete_are_refused_with_a_message_saying_how_to_write(
    seeded: FileSystemStorage, prod_dir: Path
) -> None:
    before = snapshot(prod_dir)
    storage = ReadOnlyStorage(seeded)

    with pytest.raises(ReadOnlyStorageError) as caught:
        storage.save("new.txt", ContentFile(b"x"))
    assert str(caught.value) == (
        "ReadOnlyStorage refused to save 'new.txt' in FileSystemStorage; list a writable "
        "backend beside it in FallbackStorage, or write to another storage."
    )
    assert isinstance(caught.value, PermissionError)
    assert (caught.value.operation, caught.value.name, caught.value.backend) == (
        "save",
        "new.txt",
        "FileSystemStorage",
    )

    with pytest.raises(ReadOnlyStorageError) as caught:
        storage.delete("b.txt")
    assert str(caught.value).startswith("ReadOnlyStorage refused to delete 'b.txt' in ")

    with pytest.raises(ReadOnlyStorageError):
        storage._save("new.txt", ContentFile(b"x"))
    with pytest.raises(ReadOnlyStorageError) as caught:
        storage.url("b.txt", http_method="put")
    assert caught.value.operation == "sign a PUT URL for"
    assert snapshot(prod_dir) == before


def test_inside_fallback_storage_a_refusal_falls_through_to_the_writable_backend(
    seeded: FileSystemStorage, prod_dir: Path, local: FileSystemStorage, local_dir: Path
) -> None:
    before = snapshot(prod_dir)
    storage = FallbackStorage(backends=[ReadOnlyStorage(seeded), local])

    name = storage.save("b.txt", ContentFile(b"new"))
    with storage.open("new.txt", "wb") as handle:
        handle.write(b"written")

    assert name != "b.txt"
    assert (local_dir / name).read_bytes() == b"new"
    assert (local_dir / "new.txt").read_bytes() == b"written"
    assert snapshot(prod_dir) == before


def test_attributes_of_the_wrapped_backend_stay_readable(seeded: FileSystemStorage) -> None:
    storage = ReadOnlyStorage(seeded)

    assert storage.location == seeded.location
    assert storage.base_url == "https://prod.example/"
    assert storage.read_only is True
    with pytest.raises(AttributeError):
        storage._private  # noqa: B018


def test_configured_from_settings_alone(prod_dir: Path) -> None:
    (prod_dir / "p.txt").write_bytes(b"p")
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "prod": {
                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                "OPTIONS": {
                    "backend": {
                        "BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": str(prod_dir)},
                    }
                },
            },
            "raw": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(prod_dir)},
            },
        }
    ):
        prod = storages["prod"]
        assert isinstance(prod, ReadOnlyStorage)
        assert prod.exists("p.txt")
        with pytest.raises(ReadOnlyStorageError):
            prod.delete("p.txt")
        by_alias = ReadOnlyStorage("raw")
        assert by_alias.backend is storages["raw"]
        by_path = ReadOnlyStorage("django.core.files.storage.InMemoryStorage")
        assert isinstance(by_path.backend, InMemoryStorage)
    assert (prod_dir / "p.txt").exists()


def test_deconstructs_for_migrations() -> None:
    storage = ReadOnlyStorage(backend="prod")

    source, imports = MigrationWriter.serialize(storage)

    assert source == "fallback_storage.storage.ReadOnlyStorage(backend='prod')"
    assert imports == {"import fallback_storage.storage"}


def test_configuration_errors() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        ReadOnlyStorage()
    assert str(caught.value) == (
        "ReadOnlyStorage has no 'backend' option; set it to the storage to protect (an alias "
        "in settings.STORAGES, a dotted class path, a "
        '{"BACKEND": ..., "OPTIONS": ...} dict or a storage instance).'
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        ReadOnlyStorage(["a", "b"])  # type: ignore[arg-type]
    assert str(caught.value) == (
        "ReadOnlyStorage 'backend' must be one backend, got the list ['a', 'b']; "
        "wrap each backend in its own ReadOnlyStorage."
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        ReadOnlyStorage("nowhere").backend  # noqa: B018
    assert str(caught.value) == (
        "ReadOnlyStorage 'backend' entry 'nowhere' is not an alias in settings.STORAGES; "
        "add it there or use a dotted class path."
    )


# -- when protection starts -------------------------------------------------------------------


def s3_entry(bucket: str) -> dict[str, object]:
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": bucket, "region_name": "us-east-1"},
    }


def another_storage_on(bucket: str) -> S3Storage:
    return S3Storage(bucket_name=bucket, region_name="us-east-1")


def fresh_bucket() -> str:
    return f"construction-{uuid.uuid4().hex[:12]}"


def test_protection_starts_at_construction_for_every_form_of_entry() -> None:
    instance, alias, entry, path_bucket = (fresh_bucket() for _ in range(4))
    ReadOnlyStorage(another_storage_on(instance))
    ReadOnlyStorage(s3_entry(entry))
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "prod": s3_entry(alias),
            "read_only": {"BACKEND": READ_ONLY, "OPTIONS": {"backend": "prod"}},
        },
        AWS_STORAGE_BUCKET_NAME=path_bucket,
    ):
        storages["read_only"]  # noqa: B018 - constructed, not used
        ReadOnlyStorage("storages.backends.s3.S3Storage")
        assert s3_guard.is_protected(storages["prod"])
    # The bucket is protected, whatever storage object reaches it.
    for bucket in (instance, alias, entry, path_bucket):
        assert s3_guard.is_protected(another_storage_on(bucket)), bucket
    assert not s3_guard.is_protected(another_storage_on(fresh_bucket()))


def test_an_entry_that_cannot_be_built_yet_is_built_and_protected_at_first_use() -> None:
    bucket = fresh_bucket()
    storage = ReadOnlyStorage("later")  # no such alias yet: no error here
    assert not s3_guard.is_protected(another_storage_on(bucket))
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "later": s3_entry(bucket),
        }
    ):
        assert storage.backend is storages["later"]
    assert s3_guard.is_protected(another_storage_on(bucket))


def test_a_read_only_storage_listing_itself_fails_at_first_use_not_construction() -> None:
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "loop": {"BACKEND": READ_ONLY, "OPTIONS": {"backend": "loop"}},
        }
    ):
        storage: Any = storages["loop"]
        with pytest.raises(ImproperlyConfigured) as caught:
            storage.backend  # noqa: B018
    assert str(caught.value) == (
        "ReadOnlyStorage refers to itself through its backends (ReadOnlyStorage -> "
        "ReadOnlyStorage); remove the entry that leads back to it."
    )


READ_ONLY = "fallback_storage.storage.ReadOnlyStorage"


def test_an_unpickled_read_only_storage_protects_at_once_in_another_process(
    tmp_path: Path,
) -> None:
    bucket = fresh_bucket()
    (tmp_path / "storage.pickle").write_bytes(pickle.dumps(ReadOnlyStorage(s3_entry(bucket))))
    script = (
        "import pickle, django\n"
        "from django.conf import settings\n"
        "settings.configure()\n"
        "from storages.backends.s3 import S3Storage\n"
        "from fallback_storage import s3_guard\n"
        f"other = S3Storage(bucket_name={bucket!r}, region_name='us-east-1')\n"
        "before = s3_guard.is_protected(other)\n"
        "pickle.loads(open('storage.pickle', 'rb').read())\n"
        "print(before, s3_guard.is_protected(other))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
