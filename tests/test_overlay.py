"""Overlay semantics (issue 9): whiteouts, copy-on-read and copy-up, all opt-in."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import test_s3_guard
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage
from test_s3_guard import Production

from fallback_storage.storage import FallbackStorage, ReadOnlyStorage

CHUNK = File.DEFAULT_CHUNK_SIZE


def write(storage: Storage, name: str, data: bytes) -> None:
    assert storage.save(name, ContentFile(data)) == name


def read(storage: Storage, name: str) -> bytes:
    with storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data


def make_layers(kind: str, tmp_path: Path) -> tuple[Storage, Storage]:
    """A writable upper layer and a production lower layer of the same kind."""
    if kind == "memory":
        return (
            InMemoryStorage(base_url="/local/"),
            InMemoryStorage(base_url="https://prod.example/"),
        )
    (tmp_path / "local").mkdir()
    (tmp_path / "prod").mkdir()
    return (
        FileSystemStorage(location=str(tmp_path / "local"), base_url="/local/"),
        FileSystemStorage(location=str(tmp_path / "prod"), base_url="https://prod.example/"),
    )


@pytest.fixture(params=["filesystem", "memory"])
def layers(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Storage, Storage]:
    return make_layers(request.param, tmp_path)


def overlay(local: Storage, prod: Storage, **options: Any) -> FallbackStorage:
    return FallbackStorage(backends=[local, ReadOnlyStorage(prod)], **options)


# -- options ----------------------------------------------------------------------------


def test_whiteouts_false_keeps_the_1x_delete(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    storage = overlay(local, prod, whiteouts=False)

    storage.delete("a.txt")

    assert storage.exists("a.txt")
    assert read(storage, "a.txt") == b"prod"
    assert not local.exists("a.txt")


def test_by_default_delete_hides_a_file_of_a_read_only_layer(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    storage = overlay(local, prod)

    storage.delete("a.txt")

    assert storage.whiteouts is True
    assert not storage.exists("a.txt")
    assert storage.listdir("") == ([], [])
    assert storage.save("a.txt", ContentFile(b"new")) == "a.txt"
    assert read(storage, "a.txt") == b"new"
    assert read(prod, "a.txt") == b"prod"


def test_a_list_of_writable_backends_keeps_the_1x_delete(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    storage = FallbackStorage(backends=[local, prod])

    storage.delete("a.txt")

    assert storage.whiteouts is False
    assert storage.exists("a.txt")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"whiteouts": "yes"},
            "FallbackStorage option 'whiteouts' must be True, False or None, got 'yes'; "
            "set it to a bool, or leave it out for the default.",
        ),
        (
            {"copy_on_read": 1},
            "FallbackStorage option 'copy_on_read' must be True or False, got 1; set it to a bool.",
        ),
        (
            {"copy_on_read_max_size": "10MB"},
            "FallbackStorage option 'copy_on_read_max_size' must be a number of bytes or None, "
            "got '10MB'; set it to an int of 0 or more.",
        ),
        (
            {"copy_on_read_max_size": -1},
            "FallbackStorage option 'copy_on_read_max_size' must be a number of bytes or None, "
            "got -1; set it to an int of 0 or more.",
        ),
        (
            {"copy_on_read_skip": "*.mp4"},
            "FallbackStorage option 'copy_on_read_skip' must be a list of glob patterns, "
            "got '*.mp4'; write it as a list of strings, e.g. ['*.mp4'].",
        ),
        (
            {"copy_on_read": True, "whiteout": True},
            "FallbackStorage got unknown options ['whiteout']; remove them or use one of "
            "['backends', 'whiteouts', 'copy_on_read', 'copy_on_read_max_size', "
            "'copy_on_read_skip', 'cache_timeout', 'cache_alias', 'skip_unreachable_for'].",
        ),
    ],
)
def test_bad_options_are_refused_with_one_sentence(
    options: dict[str, Any], message: str, local: FileSystemStorage
) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=[local], **options)
    assert str(caught.value) == message


def test_the_options_are_readable(local: FileSystemStorage) -> None:
    plain = FallbackStorage(backends=[local])
    assert (plain.whiteouts, plain.copy_on_read) == (False, False)
    storage = FallbackStorage(backends=[local], whiteouts=True, copy_on_read=True)
    assert (storage.whiteouts, storage.copy_on_read) == (True, True)


def test_the_options_deconstruct_for_migrations(local: FileSystemStorage) -> None:
    storage = FallbackStorage(backends=["local"], whiteouts=True, copy_on_read_skip=["*.mp4"])
    path, args, kwargs = storage.deconstruct()
    assert path == "fallback_storage.storage.FallbackStorage"
    assert kwargs == {"backends": ["local"], "whiteouts": True, "copy_on_read_skip": ["*.mp4"]}


# -- whiteouts ------------------------------------------------------------------------------


def test_deleting_a_production_file_hides_it_and_leaves_production_alone(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "docs/a.txt", b"prod")
    write(prod, "docs/b.txt", b"other")
    storage = overlay(local, prod, whiteouts=True)

    storage.delete("docs/a.txt")

    assert not storage.exists("docs/a.txt")
    with pytest.raises(FileNotFoundError):
        storage.open("docs/a.txt")
    with pytest.raises(FileNotFoundError):
        storage.size("docs/a.txt")
    assert storage.listdir("docs") == ([], ["b.txt"])
    assert storage.url("docs/a.txt") == "https://prod.example/docs/a.txt"
    assert storage.list_whiteouts() == ["docs/a.txt"]
    assert read(prod, "docs/a.txt") == b"prod"
    assert storage.exists("docs/b.txt")


def test_url_of_a_hidden_name_is_computed_by_the_last_backend(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    # The writable backend last: a visible name gets production's URL first.
    storage = FallbackStorage(backends=[ReadOnlyStorage(prod), local], whiteouts=True)
    assert storage.url("a.txt") == "https://prod.example/a.txt"

    storage.delete("a.txt")

    assert storage.url("a.txt") == "/local/a.txt"
    assert not storage.exists("a.txt")


def test_deleting_a_file_in_both_layers_removes_the_local_copy_and_hides_production(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    write(local, "a.txt", b"local")
    storage = overlay(local, prod, whiteouts=True)

    storage.delete("a.txt")

    assert not local.exists("a.txt")
    assert not storage.exists("a.txt")


def test_deleting_a_local_only_file_records_no_marker(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    write(local, "mine.txt", b"local")
    storage = overlay(local, prod, whiteouts=True)

    storage.delete("mine.txt")

    assert not storage.exists("mine.txt")
    assert storage.list_whiteouts() == []
    assert local.listdir("") == ([], [])


class Unreachable(InMemoryStorage):
    def exists(self, name: str) -> bool:
        raise ConnectionError("production is unreachable")


def test_a_lower_layer_that_cannot_be_asked_still_gets_the_deleted_name_hidden(
    local: FileSystemStorage,
) -> None:
    storage = overlay(local, Unreachable(), whiteouts=True)

    storage.delete("a.txt")

    assert storage.list_whiteouts() == ["a.txt"]
    assert not storage.exists("a.txt")


def test_saving_a_hidden_name_again_removes_the_marker(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    storage = overlay(local, prod, whiteouts=True)
    storage.delete("a.txt")

    assert storage.save("a.txt", ContentFile(b"new")) == "a.txt"

    assert storage.exists("a.txt")
    assert read(storage, "a.txt") == b"new"
    assert storage.list_whiteouts() == []
    assert storage.listdir("") == ([], ["a.txt"])


def test_opening_a_hidden_name_for_writing_removes_the_marker(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    storage = overlay(local, prod, whiteouts=True)
    storage.delete("a.txt")

    with storage.open("a.txt", "wb") as handle:
        handle.write(b"fresh")

    assert read(storage, "a.txt") == b"fresh"
    assert storage.list_whiteouts() == []


def test_deleting_a_directory_hides_its_whole_subtree(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    write(prod, "docs/a.txt", b"a")
    write(prod, "docs/sub/b.txt", b"b")
    write(prod, "keep.txt", b"keep")
    write(local, "docs/mine.txt", b"mine")
    write(local, "docs/sub/mine.txt", b"mine")
    storage = overlay(local, prod, whiteouts=True)

    storage.delete("docs")

    assert not storage.exists("docs/a.txt")
    assert not storage.exists("docs/sub/b.txt")
    assert not storage.exists("docs/mine.txt")
    assert not storage.exists("docs/sub/mine.txt")
    assert local.listdir("") == ([], [".wh.docs"])
    assert storage.listdir("") == ([], ["keep.txt"])
    with pytest.raises(FileNotFoundError):
        storage.listdir("docs")
    with pytest.raises(FileNotFoundError):
        storage.open("docs/sub/b.txt")
    assert storage.list_whiteouts() == ["docs"]
    assert read(prod, "docs/sub/b.txt") == b"b"

    # A new file under the deleted directory is visible; the old subtree stays hidden.
    write(storage, "docs/new.txt", b"new")
    assert storage.listdir("docs") == ([], ["new.txt"])
    assert not storage.exists("docs/a.txt")
    assert storage.listdir("") == (["docs"], ["keep.txt"])


def test_markers_are_never_visible_as_files(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    write(prod, "docs/a.txt", b"prod")
    storage = overlay(local, prod, whiteouts=True)
    storage.delete("docs/a.txt")
    assert local.exists("docs/.wh.a.txt")

    assert not storage.exists("docs/.wh.a.txt")
    with pytest.raises(FileNotFoundError):
        storage.open("docs/.wh.a.txt")
    assert storage.listdir("docs") == ([], [])
    for name in (".wh.a.txt", "docs/.wh.a.txt", ".wh.docs/x.txt"):
        with pytest.raises(SuspiciousFileOperation) as caught:
            storage.save(name, ContentFile(b"x"))
        assert str(caught.value) == (
            f"FallbackStorage cannot use the name {name!r} because names starting with "
            f"'.wh.' are whiteout markers while whiteouts are on; rename the file."
        )
    with pytest.raises(SuspiciousFileOperation):
        storage.delete("docs/.wh.a.txt")
    assert local.exists("docs/.wh.a.txt")


def test_marker_names_are_ordinary_names_when_whiteouts_are_off(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    storage = overlay(local, prod, whiteouts=False, copy_on_read=True)

    write(storage, ".wh.a.txt", b"ok")

    assert storage.exists(".wh.a.txt")


def test_whiteouts_persist_across_restarts(local_dir: Path, prod_dir: Path) -> None:
    prod = FileSystemStorage(location=str(prod_dir))
    write(prod, "docs/a.txt", b"prod")
    write(prod, "old/b.txt", b"prod")
    first = overlay(FileSystemStorage(location=str(local_dir)), prod, whiteouts=True)
    first.delete("docs/a.txt")
    first.delete("old")

    restarted = overlay(
        FileSystemStorage(location=str(local_dir)),
        FileSystemStorage(location=str(prod_dir)),
        whiteouts=True,
    )

    assert (local_dir / "docs" / ".wh.a.txt").is_file()
    assert (local_dir / ".wh.old").is_file()
    assert not restarted.exists("docs/a.txt")
    assert not restarted.exists("old/b.txt")
    assert restarted.list_whiteouts() == ["docs/a.txt", "old"]


def test_list_and_clear_whiteouts(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    for name in ("a.txt", "docs/b.txt", "docs/deep/c.txt"):
        write(prod, name, b"prod")
    storage = overlay(local, prod, whiteouts=True)
    for name in ("a.txt", "docs/b.txt", "docs/deep/c.txt"):
        storage.delete(name)

    assert storage.list_whiteouts() == ["a.txt", "docs/b.txt", "docs/deep/c.txt"]
    assert storage.list_whiteouts("docs") == ["docs/b.txt", "docs/deep/c.txt"]
    assert storage.list_whiteouts("nowhere") == []
    write(local, "mine.txt", b"local")
    assert storage.list_whiteouts("mine.txt") == []
    assert storage.clear_whiteouts(["docs/b.txt", "not-hidden.txt"]) == ["docs/b.txt"]
    assert storage.exists("docs/b.txt")
    assert not storage.exists("a.txt")
    assert storage.clear_whiteouts() == ["a.txt", "docs/deep/c.txt"]
    assert storage.exists("a.txt")
    assert storage.exists("docs/deep/c.txt")
    assert storage.list_whiteouts() == []


@pytest.mark.parametrize("method", ["list_whiteouts", "clear_whiteouts"])
def test_whiteout_methods_need_the_option(method: str, local: FileSystemStorage) -> None:
    storage = FallbackStorage(backends=[local], copy_on_read=True)
    with pytest.raises(ImproperlyConfigured) as caught:
        getattr(storage, method)()
    assert str(caught.value) == (
        f"FallbackStorage.{method}() needs whiteouts, which are off for this storage "
        f"(no read-only layer below the writable one, or 'whiteouts': False); set "
        f"'whiteouts': True in the storage's OPTIONS."
    )


# -- copy-on-read -----------------------------------------------------------------------------


def test_copy_on_read_keeps_a_local_copy_that_works_offline(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "docs/a.txt", b"from production")
    storage = overlay(local, prod, copy_on_read=True)

    assert read(storage, "docs/a.txt") == b"from production"
    assert read(local, "docs/a.txt") == b"from production"

    prod.delete("docs/a.txt")  # production gone: the copy answers
    assert read(storage, "docs/a.txt") == b"from production"
    with storage.open("docs/a.txt", "r") as handle:
        assert handle.read() == "from production"


def test_copy_on_read_is_off_by_default(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    write(prod, "a.txt", b"prod")
    storage = overlay(local, prod, whiteouts=True)

    assert read(storage, "a.txt") == b"prod"

    assert not local.exists("a.txt")


class CountingFileSystemStorage(FileSystemStorage):
    """A real FileSystemStorage that records the size of every read of an opened file."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reads: list[int] = []

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        opened = super()._open(name, mode)  # type: ignore[misc]
        raw = opened.file
        reads = self.reads

        class Counting(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def read(self, size: int = -1) -> bytes:
                reads.append(size)
                data: bytes = raw.read(size)
                return data

            def close(self) -> None:
                raw.close()
                super().close()

        return File(Counting(), name)  # type: ignore[arg-type]


def test_copy_on_read_streams_the_copy_in_chunks(local_dir: Path, prod_dir: Path) -> None:
    data = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    prod = CountingFileSystemStorage(location=str(prod_dir))
    write(prod, "big.bin", data)
    local = FileSystemStorage(location=str(local_dir))
    storage = overlay(local, prod, copy_on_read=True)

    assert read(storage, "big.bin") == data

    assert (local_dir / "big.bin").read_bytes() == data
    assert len(prod.reads) >= 4
    assert all(0 < size <= CHUNK for size in prod.reads)


def test_copy_on_read_size_cap_serves_larger_files_without_copying(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    write(prod, "small.txt", b"12345")
    write(prod, "large.txt", b"123456")
    storage = overlay(local, prod, copy_on_read=True, copy_on_read_max_size=5)

    assert read(storage, "small.txt") == b"12345"
    assert read(storage, "large.txt") == b"123456"
    with storage.open("large.txt", "r") as handle:
        assert handle.read() == "123456"

    assert local.exists("small.txt")
    assert not local.exists("large.txt")


def test_copy_on_read_skip_patterns(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    for name in ("clip.mp4", "videos/raw/x.mov", "docs/a.txt"):
        write(prod, name, b"prod")
    storage = overlay(local, prod, copy_on_read=True, copy_on_read_skip=["*.mp4", "videos/*"])

    for name in ("clip.mp4", "videos/raw/x.mov", "docs/a.txt"):
        assert read(storage, name) == b"prod"

    assert not local.exists("clip.mp4")
    assert not local.exists("videos/raw/x.mov")
    assert local.exists("docs/a.txt")


class DiskFullAfterWriting(FileSystemStorage):
    def _save(self, name: str, content: File[Any]) -> str:
        super()._save(name, content)  # type: ignore[misc]
        raise OSError(28, "No space left on device")


def test_a_failed_copy_still_serves_the_exact_bytes_and_leaves_no_partial_copy(
    local_dir: Path, prod: FileSystemStorage
) -> None:
    data = b"x" * (2 * CHUNK + 3)
    write(prod, "a.bin", data)
    storage = overlay(DiskFullAfterWriting(location=str(local_dir)), prod, copy_on_read=True)

    assert read(storage, "a.bin") == data
    with storage.open("a.bin", "r") as handle:
        assert handle.read() == data.decode()

    assert not (local_dir / "a.bin").exists()


class CopiedMeanwhile(FileSystemStorage):
    """Another reader finishes its copy of the same file just before this one starts."""

    def _save(self, name: str, content: File[Any]) -> str:
        Path(self.path(name)).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path(name)).write_bytes(b"the other reader's copy")
        saved: str = super()._save(name, content)  # type: ignore[misc]
        return saved


def test_a_copy_made_meanwhile_by_another_reader_is_kept(
    local_dir: Path, prod: FileSystemStorage
) -> None:
    write(prod, "docs/a.txt", b"production")
    storage = overlay(CopiedMeanwhile(location=str(local_dir)), prod, copy_on_read=True)

    assert read(storage, "docs/a.txt") == b"production"

    assert [path.name for path in (local_dir / "docs").iterdir()] == ["a.txt"]
    assert (local_dir / "docs" / "a.txt").read_bytes() == b"the other reader's copy"


def test_a_missing_file_is_still_file_not_found_with_copy_on_read(
    layers: tuple[Storage, Storage],
) -> None:
    local, prod = layers
    storage = overlay(local, prod, copy_on_read=True)
    with pytest.raises(FileNotFoundError):
        storage.open("nowhere.txt")


# -- append and update modes ------------------------------------------------------------------


@pytest.mark.parametrize("option", ["whiteouts", "copy_on_read"])
@pytest.mark.parametrize(
    ("kind", "mode", "expected"),
    [
        ("filesystem", "ab", b"original+more"),
        ("filesystem", "a+b", b"original+more"),
        ("filesystem", "r+b", b"+morenal"),
        # InMemoryStorage opens every mode at the start of the file, and "ab" only when it exists.
        ("memory", "ab", b"+morenal"),
        ("memory", "r+b", b"+morenal"),
    ],
)
def test_append_and_update_modes_copy_a_production_file_up_first(
    tmp_path: Path, kind: str, option: str, mode: str, expected: bytes
) -> None:
    local, prod = make_layers(kind, tmp_path)
    write(prod, "a.txt", b"original")
    storage = overlay(local, prod, **{option: True})

    with storage.open("a.txt", mode) as handle:
        handle.write(b"+more")

    assert read(local, "a.txt") == expected
    assert read(storage, "a.txt") == expected
    assert read(prod, "a.txt") == b"original"


def test_write_mode_truncates_without_copying(layers: tuple[Storage, Storage]) -> None:
    local, prod = layers
    write(prod, "a.txt", b"original")
    storage = overlay(local, prod, whiteouts=True)

    with storage.open("a.txt", "wb") as handle:
        handle.write(b"new")

    assert read(storage, "a.txt") == b"new"


def test_append_mode_without_the_overlay_rules_keeps_the_1x_behaviour(
    local_dir: Path, prod: FileSystemStorage
) -> None:
    write(prod, "a.txt", b"original")
    storage = overlay(FileSystemStorage(location=str(local_dir)), prod, whiteouts=False)

    with storage.open("a.txt", "ab") as handle:
        handle.write(b"+more")

    assert (local_dir / "a.txt").read_bytes() == b"+more"


# -- production S3 on moto ---------------------------------------------------------------------

# The production-bucket proof of the S3 guard tests, reused as it is: a seeded bucket, in process
# (mock_aws, recorded by moto's own request recorder) and over HTTP (a ThreadedMotoServer on
# 127.0.0.1, recorded by its access log), each recording what reached moto independently of
# the guard. Their test_recording_sees_writes_that_reach_the_bucket shows the recordings see writes.
moto_server = test_s3_guard.moto_server
unprotected = test_s3_guard.unprotected
production = test_s3_guard.production


def test_production_bucket_stays_untouched(production: Production, local_dir: Path) -> None:
    def make() -> FallbackStorage:
        local = FileSystemStorage(location=str(local_dir))
        return FallbackStorage(
            backends=[local, ReadOnlyStorage(production.storage)],
            whiteouts=True,
            copy_on_read=True,
        )

    storage = make()
    assert read(storage, "docs/deep/c.txt") == b"production c"
    assert (local_dir / "docs" / "deep" / "c.txt").read_bytes() == b"production c"
    with storage.open("a.txt", "ab") as handle:
        handle.write(b"+local")
    assert (local_dir / "a.txt").read_bytes() == b"production a+local"
    storage.delete("docs/b.txt")
    storage.delete("docs/deep")
    reached = len(production.requests())
    # Hidden names and local copies are answered by the local layer alone.
    assert not storage.exists("docs/b.txt")
    assert not storage.exists("docs/deep/c.txt")
    with pytest.raises(FileNotFoundError):
        storage.open("docs/b.txt")
    assert read(storage, "a.txt") == b"production a+local"
    assert len(production.requests()) == reached
    assert storage.listdir("") == (["docs"], ["a.txt"])
    assert storage.listdir("docs") == ([], [])
    production_url = production.storage.url("docs/b.txt").split("?")[0]
    assert storage.url("docs/b.txt").split("?")[0] == production_url
    write(storage, "docs/b.txt", b"mine")
    write(storage, "local-only.txt", b"mine")
    storage.delete("local-only.txt")  # S3 lists an unknown prefix as empty: still no marker

    restarted = make()
    assert not restarted.exists("docs/deep/c.txt")
    assert read(restarted, "docs/b.txt") == b"mine"
    assert restarted.list_whiteouts() == ["docs/deep"]
    assert restarted.clear_whiteouts() == ["docs/deep"]
    assert read(restarted, "docs/deep/c.txt") == b"production c"

    requests = production.requests()
    assert requests
    assert {method for method, _ in requests} <= {"GET", "HEAD"}, requests
    production.assert_untouched()
