"""A model FileField on FallbackStorage: uploads, replacements, deletes, migrations."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db.migrations.writer import MigrationWriter
from django.db.models import FileField
from testapp.models import Document

from fallback_storage.storage import FallbackStorage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aliased_storages")]


def test_a_file_field_saves_reopens_replaces_and_deletes_through_fallback_storage(
    local_dir: Path, prod_dir: Path
) -> None:
    (prod_dir / "documents").mkdir()
    (prod_dir / "documents" / "copied.txt").write_bytes(b"from production")
    # A row as it comes from a copy of the production database.
    copied = Document.objects.create(file="documents/copied.txt")

    copied.refresh_from_db()
    with copied.file.open("rb") as handle:
        assert handle.read() == b"from production"
    assert copied.file.size == len(b"from production")
    assert copied.file.url == "https://prod.example/documents/copied.txt"

    # An upload under the same name must not shadow the production file.
    uploaded = Document(file=ContentFile(b"uploaded", name="copied.txt"))
    uploaded.save()
    assert uploaded.file.name is not None
    assert uploaded.file.name != "documents/copied.txt"
    assert (local_dir / uploaded.file.name).read_bytes() == b"uploaded"
    assert uploaded.file.url == f"/local/{uploaded.file.name}"

    # Replace the upload's file with new content.
    old_name = uploaded.file.name
    assert old_name is not None
    uploaded.file.save("replacement.txt", ContentFile(b"replaced"))
    uploaded.refresh_from_db()
    assert uploaded.file.name == "documents/replacement.txt"
    with uploaded.file.open("rb") as handle:
        assert handle.read() == b"replaced"
    assert (local_dir / old_name).exists()  # Django never deletes the old file by itself

    uploaded.file.delete()
    assert not (local_dir / "documents" / "replacement.txt").exists()
    assert not uploaded.file

    # Production is untouched throughout.
    assert sorted(p.name for p in (prod_dir / "documents").iterdir()) == ["copied.txt"]
    assert (prod_dir / "documents" / "copied.txt").read_bytes() == b"from production"


def test_the_storage_serializes_into_a_migration_and_loads_back() -> None:
    field = Document._meta.get_field("file")
    assert isinstance(field, FileField)
    storage = field.storage
    assert isinstance(storage, FallbackStorage)
    source, imports = MigrationWriter.serialize(storage)

    assert source == "fallback_storage.storage.FallbackStorage(backends=['local', 'prod'])"
    assert imports == {"import fallback_storage.storage"}
    loaded = eval(source, {"fallback_storage": __import__("fallback_storage.storage")})
    assert isinstance(loaded, FallbackStorage)
    assert loaded.deconstruct() == storage.deconstruct()


def test_the_committed_migration_matches_the_model() -> None:
    output = StringIO()
    call_command("makemigrations", "testapp", check=True, dry_run=True, stdout=output)
    assert "No changes detected" in output.getvalue()
