"""Proof that development over a production bucket never writes to it (issue 3).

The set-up users copy, a local ``FileSystemStorage`` in front of a ``ReadOnlyStorage`` over an
``S3Storage``, in a ``FallbackStorage``, over a seeded "production" bucket served in process by
``mock_aws`` and over real HTTP by a ``ThreadedMotoServer`` on 127.0.0.1. Every scenario drives
the storage the way a development site does, then checks with recordings that do not go through
this package (``production.py``) that only GET and HEAD reached the bucket and that its keys,
ETags and LastModified are unchanged. ``fallback_storage.testing.BucketGuard``, which sees every
S3 call a boto3 client makes, is a second witness where not even an attempt to write is expected.

Time: the bucket is seeded under ``freeze_time(SEEDED_AT)``, so production's LastModified is a
known instant. freezegun and botocore's signing get on here because the moto server runs in this
process and sees the same frozen clock (and moto does not check request times); against real S3
or a server in another process a frozen clock would make S3 answer RequestTimeTooSkewed, so only
the seeding is frozen. freezegun cannot freeze a file's mtime, which the kernel sets, so a local
file's time is set with ``os.utime`` instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import production as shared
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from production import BACKEND, BIG, BUCKET, SEED, Production, in_process, over_http
from testapp.models import Document

from fallback_storage import ReadOnlyStorageError
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage
from fallback_storage.testing import BucketGuard

moto_server = shared.moto_server

OBJECTS = {**SEED, "documents/copied.txt": b"production document"}
SEEDED_AT = "2025-06-01 12:00:00"
SEEDED_AT_UTC = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
LOCAL_TIME_UTC = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ALTERNATIVE = r"_[A-Za-z0-9]{7}"  # Django's suffix for a name that is taken
REFUSED_IN_WRAPPER = (
    f"in {BACKEND}; list a writable backend beside it in FallbackStorage, "
    f"or write to another storage."
)


def served(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bucket: str = shared.BUCKET,
) -> Iterator[Production]:
    if request.param == "mock_aws":
        productions = in_process(tmp_path, monkeypatch, OBJECTS, seeded_at=SEEDED_AT, bucket=bucket)
    else:
        moto = request.getfixturevalue("moto_server")
        productions = over_http(moto, OBJECTS, seeded_at=SEEDED_AT, bucket=bucket)
    for production in productions:
        production.before = production.snapshot()
        yield production


@pytest.fixture(params=["mock_aws", "http"])
def bucket(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Production]:
    """The seeded production bucket, snapshotted, with its recording started."""
    yield from served(request, tmp_path, monkeypatch)


@pytest.fixture(params=["mock_aws", "http"])
def unprotected_bucket(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Production]:
    """As ``bucket``, under a name no test protects (protection lasts for the process)."""
    yield from served(request, tmp_path, monkeypatch, f"unprotected-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def fallback(bucket: Production, local_dir: Path) -> FallbackStorage:
    return FallbackStorage(
        backends=[
            FileSystemStorage(location=str(local_dir), base_url="/local/"),
            ReadOnlyStorage(bucket.storage),
        ]
    )


def read(storage: Any, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:
        data: bytes = response.read()
    return data


def is_over_http(bucket: Production) -> bool:
    return "endpoint_url" in bucket.options


# -- reads ----------------------------------------------------------------------------------


def test_reads_of_production_only_files_return_the_production_bytes(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    (local_dir / "local.txt").write_bytes(b"local")
    with BucketGuard(BUCKET, block=False) as witness:
        assert read(fallback, "a.txt") == SEED["a.txt"]
        assert read(fallback, "docs/deep/c.txt") == SEED["docs/deep/c.txt"]
        assert read(fallback, "local.txt") == b"local"
        assert fallback.exists("docs/b.txt")
        assert fallback.exists("local.txt")
        assert not fallback.exists("missing.txt")
        assert fallback.size("docs/b.txt") == len(SEED["docs/b.txt"])
        assert fallback.listdir("") == (["docs", "documents"], ["local.txt", "a.txt"])
        assert fallback.listdir("docs") == (["deep"], ["b.txt"])
        with pytest.raises(FileNotFoundError):
            read(fallback, "missing.txt")
    assert {request.operation for request in witness.requests} == {
        "GetObject",
        "HeadObject",
        "ListObjects",
    }
    assert witness.writes == []
    assert sorted(p.name for p in local_dir.iterdir()) == ["local.txt"]  # nothing copied down
    bucket.assert_untouched()


def test_url_of_a_production_file_is_a_production_get_url(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    (local_dir / "local.txt").write_bytes(b"local")
    url = fallback.url("docs/b.txt")
    assert re.search(rf"(/{BUCKET}/|//{BUCKET}\.s3\.amazonaws\.com/)docs/b\.txt\?", url)
    assert fallback.url("local.txt") == "/local/local.txt"
    if is_over_http(bucket):  # fetched for real, it returns the production bytes
        assert fetch(url) == SEED["docs/b.txt"]
    bucket.assert_untouched()


def test_times_come_from_the_layer_that_has_the_file(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    assert fallback.get_modified_time("a.txt") == SEEDED_AT_UTC
    assert fallback.get_modified_time("docs/deep/c.txt") == SEEDED_AT_UTC
    # S3 keeps no access or creation time: the only layer that could answer has no such file.
    with pytest.raises(FileNotFoundError):
        fallback.get_accessed_time("a.txt")
    with pytest.raises(FileNotFoundError):
        fallback.get_created_time("a.txt")

    # A local file under a production name (a 1.x site may have one) answers first.
    shadow = local_dir / "a.txt"
    shadow.write_bytes(b"local a")
    stamp = LOCAL_TIME_UTC.timestamp()
    os.utime(shadow, (stamp, stamp))
    assert fallback.get_modified_time("a.txt") == LOCAL_TIME_UTC
    assert fallback.get_accessed_time("a.txt") == LOCAL_TIME_UTC
    assert isinstance(fallback.get_created_time("a.txt"), datetime)
    assert read(fallback, "a.txt") == b"local a"
    assert read(bucket.storage, "a.txt") == SEED["a.txt"]
    bucket.assert_untouched()


def test_path_is_always_local_and_names_a_real_file(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    # S3 has no paths: a missing name's path is where it would be on local disk...
    assert fallback.path("docs/new.txt") == str(local_dir / "docs" / "new.txt")
    assert not (local_dir / "docs").exists()
    # ...and a production file is copied down first, so its path is a real file.
    with BucketGuard(BUCKET, block=False) as witness:
        path = fallback.path("docs/b.txt")
    assert path == str(local_dir / "docs" / "b.txt")
    assert Path(path).read_bytes() == SEED["docs/b.txt"]
    assert witness.writes == []
    bucket.assert_untouched()


# -- names ----------------------------------------------------------------------------------


def test_names_never_shadow_production_files(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    assert fallback.get_valid_name("my report.txt") == "my_report.txt"
    assert fallback.generate_filename("docs/my report.txt") == "docs/my_report.txt"
    assert re.fullmatch(rf"a{ALTERNATIVE}\.txt", fallback.get_alternative_name("a", ".txt"))
    assert not fallback.is_name_available("a.txt")
    assert not fallback.is_name_available("docs/deep/c.txt")
    assert fallback.is_name_available("fresh.txt")

    with BucketGuard(BUCKET, block=False) as witness:
        available = fallback.get_available_name("docs/deep/c.txt")
        assert re.fullmatch(rf"docs/deep/c{ALTERNATIVE}\.txt", available)
        assert not fallback.exists(available)
        assert fallback.save(available, ContentFile(b"local c")) == available
    assert witness.writes == []
    assert (local_dir / available).read_bytes() == b"local c"
    assert read(fallback, "docs/deep/c.txt") == SEED["docs/deep/c.txt"]
    bucket.assert_untouched()


# -- writes land on local disk ----------------------------------------------------------------


def test_saves_land_on_local_disk(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    with BucketGuard(BUCKET, block=False) as witness:
        assert fallback.save("new.txt", ContentFile(b"new")) == "new.txt"
        over = fallback.save("a.txt", ContentFile(b"not over production"))
        nested = fallback.save("docs/b.txt", ContentFile(b"not over production b"))
    assert witness.writes == []
    assert re.fullmatch(rf"a{ALTERNATIVE}\.txt", over)
    assert re.fullmatch(rf"docs/b{ALTERNATIVE}\.txt", nested)
    assert (local_dir / "new.txt").read_bytes() == b"new"
    assert (local_dir / over).read_bytes() == b"not over production"
    assert (local_dir / nested).read_bytes() == b"not over production b"
    assert read(fallback, "a.txt") == SEED["a.txt"]
    assert read(fallback, "docs/b.txt") == SEED["docs/b.txt"]
    assert read(fallback, over) == b"not over production"
    bucket.assert_untouched()


def test_a_save_over_the_multipart_threshold_lands_on_local_disk(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    content = os.urandom(1024) * (BIG // 1024)
    assert fallback.save("big.bin", ContentFile(content)) == "big.bin"
    on_disk = (local_dir / "big.bin").read_bytes()
    assert hashlib.sha256(on_disk).hexdigest() == hashlib.sha256(content).hexdigest()
    assert fallback.size("big.bin") == BIG
    bucket.assert_untouched()


def test_deletes_never_reach_production(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    fallback.save("local.txt", ContentFile(b"local"))
    with BucketGuard(BUCKET, block=False) as witness:
        fallback.delete("local.txt")
        # A read-only layer below the writable one: a delete hides production's file
        # with a whiteout marker in the local layer, and production keeps it.
        fallback.delete("a.txt")
        fallback.delete("docs/deep")
    assert witness.writes == []
    assert not (local_dir / "local.txt").exists()
    assert not fallback.exists("a.txt")
    assert not fallback.exists("docs/deep/c.txt")
    assert fallback.listdir("docs") == ([], ["b.txt"])
    assert sorted(fallback.list_whiteouts()) == ["a.txt", "docs/deep"]
    assert read(bucket.storage, "docs/deep/c.txt") == SEED["docs/deep/c.txt"]
    bucket.assert_untouched()


def test_deletes_under_the_1x_rule_never_reach_production(
    bucket: Production, local_dir: Path
) -> None:
    local = FileSystemStorage(location=str(local_dir), base_url="/local/")
    fallback = FallbackStorage(backends=[local, ReadOnlyStorage(bucket.storage)], whiteouts=False)
    with BucketGuard(BUCKET, block=False) as witness:
        # The first backend that accepts a delete wins, and deleting a file it does
        # not have is a no-op for FileSystemStorage, so production keeps it.
        fallback.delete("a.txt")
        fallback.delete("docs/deep/c.txt")
    assert witness.writes == []
    assert fallback.exists("a.txt")
    assert read(fallback, "docs/deep/c.txt") == SEED["docs/deep/c.txt"]
    assert list(local_dir.iterdir()) == []
    bucket.assert_untouched()


@pytest.mark.parametrize("mode", ["wb", "ab", "w+b"])
def test_opening_a_production_only_name_for_writing_writes_locally(
    bucket: Production, fallback: FallbackStorage, local_dir: Path, mode: str
) -> None:
    with fallback.open("a.txt", mode) as handle:
        handle.write(b"written")
    # An append copies production's bytes up first; the other modes truncate.
    expected = SEED["a.txt"] + b"written" if mode == "ab" else b"written"
    assert (local_dir / "a.txt").read_bytes() == expected
    assert read(fallback, "a.txt") == expected  # the local file now answers first
    assert read(bucket.storage, "a.txt") == SEED["a.txt"]
    bucket.assert_untouched()


def test_opening_a_production_only_name_for_update_copies_it_up_first(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    with fallback.open("a.txt", "r+b") as handle:
        handle.write(b"X")
    assert (local_dir / "a.txt").read_bytes() == b"X" + SEED["a.txt"][1:]
    bucket.assert_untouched()


def test_opening_a_production_only_name_for_update_under_the_1x_rule_fails_without_writing(
    bucket: Production, local_dir: Path
) -> None:
    local = FileSystemStorage(location=str(local_dir), base_url="/local/")
    fallback = FallbackStorage(backends=[local, ReadOnlyStorage(bucket.storage)], whiteouts=False)
    # r+b needs an existing file: the local layer has none and production refuses.
    with pytest.raises(FileNotFoundError) as caught:
        fallback.open("a.txt", "r+b")
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert f"ReadOnlyStorage refused to open (mode 'r+b') 'a.txt' {REFUSED_IN_WRAPPER}" in notes
    assert list(local_dir.iterdir()) == []
    bucket.assert_untouched()


def test_writes_do_not_fall_through_to_production_when_the_local_layer_fails(
    bucket: Production, fallback: FallbackStorage, local_dir: Path
) -> None:
    # A file where the local layer needs a directory: every write under docs/ fails there.
    (local_dir / "docs").write_bytes(b"not a directory")
    with BucketGuard(BUCKET, block=False) as witness:
        with pytest.raises(FileExistsError) as saving:
            fallback.save("docs/new.txt", ContentFile(b"new"))
        with pytest.raises(NotADirectoryError) as opening:
            fallback.open("docs/b.txt", "wb")
        with pytest.raises(NotADirectoryError) as deleting:
            fallback.delete("docs/b.txt")
    assert witness.writes == []
    # The error raised is the local layer's, with production's refusal as a note (a
    # delete, which records a whiteout in the local layer, does not even ask production).
    assert deleting.value.filename == str(local_dir / "docs" / "b.txt")
    for caught, refused in [
        (saving, "save 'docs/new.txt'"),
        (opening, "open (mode 'wb') 'docs/b.txt'"),
    ]:
        notes = "\n".join(getattr(caught.value, "__notes__", []))
        assert f"ReadOnlyStorage refused to {refused} {REFUSED_IN_WRAPPER}" in notes
    assert read(fallback, "docs/b.txt") == SEED["docs/b.txt"]
    bucket.assert_untouched()


# -- a model FileField --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_file_field_saves_replaces_and_deletes_locally(
    bucket: Production, local_dir: Path
) -> None:
    s3 = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": bucket.options}
    storages = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(local_dir), "base_url": "/local/"},
        },
        "prod": {"BACKEND": "fallback_storage.storage.ReadOnlyStorage", "OPTIONS": {"backend": s3}},
    }
    with override_settings(STORAGES=storages), BucketGuard(BUCKET, block=False) as witness:
        # A row as it comes from a copy of the production database.
        copied = Document.objects.create(file="documents/copied.txt")
        copied.refresh_from_db()
        with copied.file.open("rb") as handle:
            assert handle.read() == OBJECTS["documents/copied.txt"]
        assert copied.file.size == len(OBJECTS["documents/copied.txt"])
        if is_over_http(bucket):
            assert fetch(copied.file.url) == OBJECTS["documents/copied.txt"]

        uploaded = Document(file=ContentFile(b"uploaded", name="copied.txt"))
        uploaded.save()
        first = uploaded.file.name
        assert first is not None
        assert re.fullmatch(rf"documents/copied{ALTERNATIVE}\.txt", first)

        uploaded.file.save("replacement.txt", ContentFile(b"replaced"))
        uploaded.refresh_from_db()
        assert uploaded.file.name == "documents/replacement.txt"
        with uploaded.file.open("rb") as handle:
            assert handle.read() == b"replaced"

        uploaded.file.delete()
        copied.file.delete()  # production-only: hidden by a whiteout, production keeps it
        assert not copied.file
        assert not Document._meta.get_field("file").storage.exists("documents/copied.txt")  # type: ignore[union-attr]

    assert witness.writes == []
    assert sorted(p.name for p in (local_dir / "documents").iterdir()) == sorted(
        [Path(first).name, ".wh.copied.txt"]
    )
    assert (local_dir / first).read_bytes() == b"uploaded"
    bucket.assert_untouched()


# -- going around the storage API ----------------------------------------------------------------


def copy_source() -> dict[str, str]:
    return {"Bucket": BUCKET, "Key": "a.txt"}


def open_write_close(storage: Any, name: str) -> None:
    with storage.open(name, "wb") as handle:
        handle.write(b"x")


# What each write tries, and the S3 operation the refusal names.
AROUND_THE_WRAPPER: dict[str, tuple[str, Callable[[Any], object]]] = {
    "backends[1].bucket.Object(key).delete()": (
        "DeleteObject",
        lambda f: f.backends[1].bucket.Object("a.txt").delete(),
    ),
    "backends[1].backend.connection.meta.client.put_object()": (
        "PutObject",
        lambda f: f.backends[1].backend.connection.meta.client.put_object(
            Bucket=BUCKET, Key="a.txt", Body=b"x"
        ),
    ),
    "backends[1].backend.save()": (
        "PutObject",
        lambda f: f.backends[1].backend.save("a.txt", ContentFile(b"x")),
    ),
    "backends[1].backend.delete()": (
        "DeleteObject",
        lambda f: f.backends[1].backend.delete("a.txt"),
    ),
    "backends[1].backend.open(wb), write, close": (
        "CreateMultipartUpload",
        lambda f: open_write_close(f.backends[1].backend, "a.txt"),
    ),
    "fallback.bucket.put_object()": (
        "PutObject",
        lambda f: f.bucket.put_object(Key="a.txt", Body=b"x"),
    ),
    "fallback.bucket.Object(key).copy_from()": (
        "CopyObject",
        lambda f: f.bucket.Object("copy.txt").copy_from(CopySource=copy_source()),
    ),
    "fallback.bucket.objects.all().delete()": (
        "DeleteObjects",
        lambda f: f.bucket.objects.all().delete(),
    ),
    "fallback.connection.meta.client.delete_object()": (
        "DeleteObject",
        lambda f: f.connection.meta.client.delete_object(Bucket=BUCKET, Key="a.txt"),
    ),
    "fallback.connection.meta.client.upload_fileobj() over 8 MiB": (
        "CreateMultipartUpload",
        lambda f: f.connection.meta.client.upload_fileobj(
            ContentFile(b"0" * BIG), BUCKET, "big.bin"
        ),
    ),
    "fallback.unsigned_connection.Object(bucket, key).put()": (
        "PutObject",
        lambda f: f.unsigned_connection.Object(BUCKET, "a.txt").put(Body=b"x"),
    ),
}


def refusal(write: Callable[[Any], object], storage: FallbackStorage) -> str:
    """The S3 operation the guard named in refusing ``write``, or what happened instead."""
    try:
        write(storage)
    except ReadOnlyStorageError as error:
        if error.backend != BACKEND:
            return f"refused by {error.backend!r}"
        return str(error.operation)
    except Exception as error:  # noqa: BLE001 - reported as the test's failure
        return f"not refused: {type(error).__name__}: {error}"
    return "not refused"


def test_writes_around_the_wrapper_are_refused(
    bucket: Production, fallback: FallbackStorage
) -> None:
    outcomes = {what: refusal(write, fallback) for what, (_, write) in AROUND_THE_WRAPPER.items()}
    assert outcomes == {what: operation for what, (operation, _) in AROUND_THE_WRAPPER.items()}
    assert read(fallback, "a.txt") == SEED["a.txt"]
    bucket.assert_untouched()


WRITE_URLS: dict[str, tuple[str, Callable[[Any], object]]] = {
    # A GetObject request signed for PUT: the guard names the operation, refuses the method.
    "backends[1].backend.url(http_method='PUT')": (
        "GetObject",
        lambda f: f.backends[1].backend.url("a.txt", http_method="PUT"),
    ),
    "fallback.connection.meta.client.generate_presigned_url('put_object')": (
        "PutObject",
        lambda f: f.connection.meta.client.generate_presigned_url(
            "put_object", Params={"Bucket": BUCKET, "Key": "a.txt"}
        ),
    ),
    "fallback.connection.meta.client.generate_presigned_post()": (
        "PutObject",
        lambda f: f.connection.meta.client.generate_presigned_post(BUCKET, "a.txt"),
    ),
}


def test_write_urls_are_refused(bucket: Production, fallback: FallbackStorage) -> None:
    # Through the storage API, the wrapper refuses (for production and for new names alike).
    for name in ("a.txt", "new.txt"):
        with pytest.raises(ReadOnlyStorageError) as caught:
            fallback.url(name, http_method="PUT")
        assert str(caught.value) == (
            f"ReadOnlyStorage refused to sign a PUT URL for {name!r} {REFUSED_IN_WRAPPER}"
        )
    # Around it, the guard on the backend's clients does.
    outcomes = {what: refusal(presign, fallback) for what, (_, presign) in WRITE_URLS.items()}
    assert outcomes == {what: operation for what, (operation, _) in WRITE_URLS.items()}
    bucket.assert_untouched()


# -- the recordings notice writes, so that their silence above means something ----------------


def test_the_recording_sees_a_write_that_reaches_the_bucket(
    unprotected_bucket: Production,
) -> None:
    unprotected_bucket.storage.save("a.txt", ContentFile(b"overwritten"))  # no ReadOnlyStorage
    assert [method for method, _ in unprotected_bucket.writes()] == ["PUT"]
    with pytest.raises(AssertionError):
        unprotected_bucket.assert_untouched()
