"""FallbackStorage behaviour: the 1.x contract, on real FileSystemStorage and InMemoryStorage."""

from __future__ import annotations

import errno
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import boto3
import django
import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage
from moto import mock_aws
from storages.backends.s3 import S3Storage

from fallback_storage import OperationNotImplemented, ReadOnlyStorageError
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage


def write(storage: FileSystemStorage | InMemoryStorage, name: str, data: bytes) -> None:
    assert storage.save(name, ContentFile(data)) == name


def notes(error: BaseException) -> list[str]:
    return list(getattr(error, "__notes__", []))


class RecordingMemoryStorage(InMemoryStorage):
    """A real InMemoryStorage that also records which methods were called."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []

    def __getattribute__(self, attribute: str) -> Any:
        if attribute in {"exists", "open", "_open", "size", "_save", "delete", "url", "listdir"}:
            object.__getattribute__(self, "calls").append(attribute)
        return object.__getattribute__(self, attribute)


class DiskFullStorage(FileSystemStorage):
    """A FileSystemStorage whose disk fills up after the first chunk is read."""

    def _save(self, name: str, content: File[Any]) -> str:
        content.read(4)
        raise OSError(errno.ENOSPC, "No space left on device")


# -- reads ------------------------------------------------------------------------


def test_open_reads_from_the_first_backend_that_has_the_file(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(local, "both.txt", b"local")
    write(prod, "both.txt", b"prod")
    write(prod, "prod-only.txt", b"from production")
    storage = FallbackStorage(backends=[local, prod])

    with storage.open("both.txt") as handle:
        assert handle.read() == b"local"
    with storage.open("prod-only.txt") as handle:
        assert handle.read() == b"from production"


def test_open_of_a_file_no_backend_has_raises_file_not_found_naming_each_backend(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    storage = FallbackStorage(backends=[local, prod])

    with pytest.raises(FileNotFoundError) as caught:
        storage.open("nowhere.txt")

    assert notes(caught.value)[-2:] == [
        f"open() failed in backend 0 (FileSystemStorage): FileNotFoundError: "
        f"[Errno 2] No such file or directory: {os.path.join(local.location, 'nowhere.txt')!r}",
        f"open() failed in backend 1 (FileSystemStorage): FileNotFoundError: "
        f"[Errno 2] No such file or directory: {os.path.join(prod.location, 'nowhere.txt')!r}",
    ]


def test_size_path_and_times_come_from_the_first_backend_that_has_the_file(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(prod, "p.txt", b"12345")
    storage = FallbackStorage(backends=[local, prod])

    assert storage.size("p.txt") == 5
    assert storage.get_modified_time("p.txt") == prod.get_modified_time("p.txt")
    assert storage.get_accessed_time("p.txt") == prod.get_accessed_time("p.txt")
    assert storage.get_created_time("p.txt") == prod.get_created_time("p.txt")
    # path() names the file that is served (1.x named the first layer's missing file).
    assert storage.path("p.txt") == prod.path("p.txt")


def test_the_1x_time_names_are_aliases(local: FileSystemStorage, prod: FileSystemStorage) -> None:
    write(prod, "p.txt", b"x")
    storage = FallbackStorage(backends=[local, prod])

    assert storage.modified_time("p.txt") == prod.get_modified_time("p.txt")
    assert storage.accessed_time("p.txt") == prod.get_accessed_time("p.txt")
    assert storage.created_time("p.txt") == prod.get_created_time("p.txt")


@pytest.fixture
def s3() -> Iterator[S3Storage]:
    # A bucket of its own: a test that wraps it in ReadOnlyStorage protects it for the process.
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
        yield S3Storage(bucket_name=bucket, region_name="us-east-1")


def test_a_backend_that_does_not_implement_a_method_is_skipped(
    s3: S3Storage, local: FileSystemStorage
) -> None:
    storage = FallbackStorage(backends=[s3, local])

    # S3Storage.path() raises NotImplementedError: the next backend answers.
    assert storage.path("a.txt") == local.path("a.txt")


def test_a_method_no_backend_implements_raises_attribute_and_not_implemented_error(
    s3: S3Storage,
) -> None:
    storage = FallbackStorage(backends=[s3, ReadOnlyStorage(s3)])

    with pytest.raises(OperationNotImplemented) as caught:
        storage.path("a.txt")

    assert isinstance(caught.value, AttributeError)
    assert isinstance(caught.value, NotImplementedError)
    assert str(caught.value) == (
        "No backend of FallbackStorage implements path() (S3Storage, ReadOnlyStorage); "
        "add a backend that does."
    )


def test_a_backend_left_with_djangos_base_methods_is_skipped(local: FileSystemStorage) -> None:
    class Minimal(Storage):
        def exists(self, name: str) -> bool:
            return False

    storage = FallbackStorage(backends=[Minimal(), local])
    write(local, "a.txt", b"abc")

    # Storage.size() raises NotImplementedError.
    assert storage.size("a.txt") == 3


def test_one_failure_is_reraised_with_its_type_intact(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_bytes(b"")
    broken = FileSystemStorage(location=str(not_a_directory))
    storage = FallbackStorage(backends=[broken])

    with pytest.raises(NotADirectoryError) as caught:
        storage.size("a.txt")

    assert caught.type is NotADirectoryError
    assert notes(caught.value) == ["size() failed in backend 0 (FileSystemStorage)."]


def test_the_most_informative_failure_wins_over_file_not_found(
    tmp_path: Path, local: FileSystemStorage
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_bytes(b"")
    broken = FileSystemStorage(location=str(not_a_directory))
    storage = FallbackStorage(backends=[local, broken])

    with pytest.raises(NotADirectoryError) as caught:
        storage.size("a.txt")

    assert notes(caught.value)[0].startswith(
        "size() failed in backend 0 (FileSystemStorage): FileNotFoundError:"
    )
    assert notes(caught.value)[1].startswith(
        "size() failed in backend 1 (FileSystemStorage): NotADirectoryError:"
    )


def test_every_backend_missing_the_file_gives_file_not_found_never_key_error() -> None:
    storage = FallbackStorage(backends=[InMemoryStorage(), InMemoryStorage()])

    with pytest.raises(FileNotFoundError):
        storage.size("missing.txt")
    with pytest.raises(FileNotFoundError):
        storage.get_modified_time("missing.txt")


def test_suspicious_names_are_raised_at_once_and_never_reach_later_backends(
    local: FileSystemStorage,
) -> None:
    later = RecordingMemoryStorage()
    storage = FallbackStorage(backends=[local, later])

    with pytest.raises(SuspiciousFileOperation):
        storage.open("../../etc/passwd")
    with pytest.raises(SuspiciousFileOperation):
        storage.exists("../outside.txt")
    with pytest.raises(SuspiciousFileOperation):
        storage.size("/etc/passwd")

    assert later.calls == []


# -- exists / listdir / url ---------------------------------------------------------


def test_exists_is_true_when_any_backend_has_the_file_and_stops_at_the_first(
    local: FileSystemStorage,
) -> None:
    later = RecordingMemoryStorage()
    write(local, "l.txt", b"x")
    write(later, "m.txt", b"x")
    later.calls.clear()
    storage = FallbackStorage(backends=[local, later])

    assert storage.exists("l.txt") is True
    assert later.calls == []
    assert storage.exists("m.txt") is True
    assert storage.exists("none.txt") is False


def test_listdir_merges_every_backend_each_name_once_in_backend_order(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(local, "dir/b.txt", b"x")
    write(local, "dir/sub1/x.txt", b"x")
    write(prod, "dir/a.txt", b"x")
    write(prod, "dir/b.txt", b"x")
    write(prod, "dir/sub1/y.txt", b"x")
    write(prod, "dir/sub2/z.txt", b"x")
    storage = FallbackStorage(backends=[local, prod])

    directories, files = storage.listdir("dir")

    assert directories == ["sub1", "sub2"]
    assert files == ["b.txt", "a.txt"]


def test_listdir_counts_a_missing_path_as_empty_unless_every_backend_misses_it(
    local: FileSystemStorage,
) -> None:
    memory = InMemoryStorage()
    write(memory, "only-in-memory/a.txt", b"x")
    storage = FallbackStorage(backends=[local, memory])

    assert storage.listdir("only-in-memory") == ([], ["a.txt"])
    with pytest.raises(FileNotFoundError):
        storage.listdir("nowhere")


def test_url_comes_from_the_backend_that_has_the_file_else_the_last(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(local, "l.txt", b"x")
    write(prod, "p.txt", b"x")
    write(prod, "l.txt", b"x")
    storage = FallbackStorage(backends=[local, prod])

    assert storage.url("l.txt") == "/local/l.txt"
    assert storage.url("p.txt") == "https://prod.example/p.txt"
    assert storage.url("missing.txt") == "https://prod.example/missing.txt"


def test_url_of_the_last_backend_needs_no_existence_check(local: FileSystemStorage) -> None:
    last = RecordingMemoryStorage(base_url="/memory/")
    storage = FallbackStorage(backends=[local, last])

    assert storage.url("x.txt") == "/memory/x.txt"
    assert last.calls == ["url"]


# -- writes --------------------------------------------------------------------------


def test_save_goes_to_the_first_backend_that_accepts_it(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    storage = FallbackStorage(backends=[ReadOnlyStorage(prod), local])

    name = storage.save("new.txt", ContentFile(b"hello"))

    assert name == "new.txt"
    assert Path(local.path("new.txt")).read_bytes() == b"hello"
    assert not prod.exists("new.txt")


def test_save_rewinds_the_content_so_no_backend_gets_a_truncated_file(
    tmp_path: Path, local: FileSystemStorage
) -> None:
    full = DiskFullStorage(location=str(tmp_path / "full"))
    storage = FallbackStorage(backends=[full, local])

    name = storage.save("data.bin", ContentFile(b"0123456789"))

    assert Path(local.path(name)).read_bytes() == b"0123456789"


def test_save_does_not_retry_content_that_cannot_be_rewound(
    tmp_path: Path, local: FileSystemStorage
) -> None:
    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.data = io.BytesIO(b"0123456789")

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self.data.readinto(buffer)

    full = DiskFullStorage(location=str(tmp_path / "full"))
    storage = FallbackStorage(backends=[full, local])

    with pytest.raises(OSError) as caught:
        storage.save("data.bin", File(cast(IO[bytes], Unseekable()), name="data.bin"))

    assert caught.value.errno == errno.ENOSPC
    assert "The content cannot be rewound, so no further backend was tried." in notes(caught.value)
    assert not local.exists("data.bin")


def test_when_no_backend_accepts_a_write_the_real_error_wins_over_the_refusal(
    tmp_path: Path, prod: FileSystemStorage
) -> None:
    full = DiskFullStorage(location=str(tmp_path / "full"))
    storage = FallbackStorage(backends=[ReadOnlyStorage(prod), full])

    with pytest.raises(OSError) as caught:
        storage.save("data.bin", ContentFile(b"x"))

    assert not isinstance(caught.value, ReadOnlyStorageError)
    assert caught.value.errno == errno.ENOSPC


def test_delete_removes_from_the_first_backend_that_accepts_it(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(local, "a.txt", b"x")
    write(prod, "a.txt", b"x")
    storage = FallbackStorage(backends=[local, prod])

    storage.delete("a.txt")

    assert not local.exists("a.txt")
    assert prod.exists("a.txt")
    assert storage.exists("a.txt")


def test_open_for_writing_lands_in_the_first_writable_backend(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    storage = FallbackStorage(backends=[ReadOnlyStorage(prod), local])

    with storage.open("w.txt", "wb") as handle:
        handle.write(b"written")

    assert Path(local.path("w.txt")).read_bytes() == b"written"
    assert not prod.exists("w.txt")


# -- names ------------------------------------------------------------------------------


def test_get_available_name_is_free_in_every_backend(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(prod, "docs/report.pdf", b"production")
    storage = FallbackStorage(backends=[local, prod])

    name = storage.get_available_name("docs/report.pdf")

    assert name != "docs/report.pdf"
    assert name.startswith("docs/report_") and name.endswith(".pdf")
    assert not local.exists(name) and not prod.exists(name)


def test_saving_a_name_that_exists_only_in_a_later_backend_never_shadows_it(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(prod, "photo.jpg", b"production photo")
    storage = FallbackStorage(backends=[local, prod])

    name = storage.save("photo.jpg", ContentFile(b"new upload"))

    assert name != "photo.jpg"
    with storage.open("photo.jpg") as handle:
        assert handle.read() == b"production photo"
    with storage.open(name) as handle:
        assert handle.read() == b"new upload"


def test_get_available_name_follows_the_write_targets_naming_rule(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    class CountingNames(FileSystemStorage):
        def get_alternative_name(self, file_root: str, file_ext: str) -> str:
            return f"{file_root}-copy{file_ext}"

    target = CountingNames(location=local.location)
    write(prod, "a.txt", b"x")
    storage = FallbackStorage(backends=[ReadOnlyStorage(prod), target])

    assert storage.get_available_name("a.txt") == "a-copy.txt"
    assert storage.get_available_name("free.txt") == "free.txt"


def test_get_available_name_truncates_to_max_length(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(prod, "averylongname.txt", b"x")
    storage = FallbackStorage(backends=[local, prod])

    name = storage.get_available_name("averylongname.txt", max_length=20)

    assert len(name) <= 20
    assert name.endswith(".txt") and not prod.exists(name)
    with pytest.raises(SuspiciousFileOperation) as caught:
        storage.get_available_name("averylongname.txt", max_length=11)
    # Django's own message, from the writable backend's get_available_name().
    assert str(caught.value).startswith("Storage can not find an available filename for ")


def test_get_available_name_rejects_path_traversal(local: FileSystemStorage) -> None:
    storage = FallbackStorage(backends=[local])

    with pytest.raises(SuspiciousFileOperation) as caught:
        storage.get_available_name("../escape/a.txt")

    assert str(caught.value) == "Detected path traversal attempt in '../escape'"


@pytest.mark.skipif(django.VERSION < (5, 1), reason="allow_overwrite is new in Django 5.1")
def test_get_available_name_keeps_the_name_when_the_target_overwrites(
    local_dir: Path, prod: FileSystemStorage
) -> None:
    overwriting = FileSystemStorage(location=str(local_dir), allow_overwrite=True)
    write(prod, "a.txt", b"x")
    (local_dir / "a.txt").write_bytes(b"old")
    storage = FallbackStorage(backends=[overwriting, prod])

    assert storage.get_available_name("a.txt") == "a.txt"
    assert storage.is_name_available("a.txt") is True
    assert storage.save("a.txt", ContentFile(b"new")) == "a.txt"
    assert (local_dir / "a.txt").read_bytes() == b"new"


def test_is_name_available_agrees_with_get_available_name(
    local: FileSystemStorage, prod: FileSystemStorage
) -> None:
    write(prod, "taken.txt", b"x")
    storage = FallbackStorage(backends=[local, prod])

    assert storage.is_name_available("taken.txt") is False
    assert storage.is_name_available("free.txt") is True
    assert storage.is_name_available("free.txt", max_length=3) is False


def test_name_functions_answer_from_the_first_backend(local: FileSystemStorage) -> None:
    storage = FallbackStorage(backends=[local, InMemoryStorage()])

    assert storage.get_valid_name("my file!.txt") == "my_file.txt"
    assert storage.generate_filename("dir/my file.txt") == "dir/my_file.txt"
    alternative = storage.get_alternative_name("root", ".txt")
    assert alternative.startswith("root_") and alternative.endswith(".txt")


# -- with a real S3Storage (moto) ----------------------------------------------------------


def test_url_passes_extra_arguments_through_to_s3(s3: S3Storage, local: FileSystemStorage) -> None:
    s3.save("p.txt", ContentFile(b"p"))
    storage = FallbackStorage(backends=[local, s3])

    url = storage.url("p.txt", parameters={"ResponseContentType": "text/plain"}, expire=60)

    assert url.startswith(f"https://{s3.bucket_name}.s3.amazonaws.com/p.txt?")
    assert "response-content-type=text%2Fplain" in url
    assert "Expires=" in url or "X-Amz-Expires=60" in url


def test_an_s3_target_that_overwrites_keeps_the_name(
    s3: S3Storage, prod: FileSystemStorage
) -> None:
    assert s3.file_overwrite is True
    write(prod, "a.txt", b"production")
    storage = FallbackStorage(backends=[s3, ReadOnlyStorage(prod)])

    assert storage.get_available_name("a.txt") == "a.txt"
    assert storage.save("a.txt", ContentFile(b"new")) == "a.txt"
    with s3.open("a.txt") as handle:
        assert handle.read() == b"new"


def test_an_s3_target_that_does_not_overwrite_gets_a_fresh_name(
    s3: S3Storage, prod: FileSystemStorage
) -> None:
    s3.file_overwrite = False
    write(prod, "a.txt", b"production")
    storage = FallbackStorage(backends=[s3, ReadOnlyStorage(prod)])

    name = storage.save("a.txt", ContentFile(b"new"))

    assert name != "a.txt"
    assert not s3.exists("a.txt")
    with storage.open("a.txt") as handle:
        assert handle.read() == b"production"


def test_s3_attributes_read_through(s3: S3Storage, local: FileSystemStorage) -> None:
    storage = FallbackStorage(backends=[local, ReadOnlyStorage(s3)])

    assert storage.bucket_name == s3.bucket_name
    assert storage.location == local.location


def test_missing_in_local_and_s3_is_file_not_found(s3: S3Storage, local: FileSystemStorage) -> None:
    storage = FallbackStorage(backends=[local, s3])

    for operation in (storage.size, storage.open, storage.get_modified_time):
        with pytest.raises(FileNotFoundError) as caught:
            operation("missing.txt")
        assert [note.split(":")[0] for note in notes(caught.value)] == [
            f"{operation.__name__}() failed in backend 0 (FileSystemStorage)",
            f"{operation.__name__}() failed in backend 1 (S3Storage)",
        ]
