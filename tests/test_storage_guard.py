"""StorageGuard and its pytest plugin parts: writes to any storage fail the test, reads do not.

Every storage here is real: FileSystemStorage on a temporary directory,
Django's InMemoryStorage, a FallbackStorage around them, django-storages'
S3Storage on a moto server over HTTP (its bucket read back with a separate,
unguarded client), and a custom class with a write method of its own.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, default_storage, storages
from django.test import override_settings
from production import Production, moto_server, over_http
from storages.backends.s3 import S3Storage

from fallback_storage.exceptions import ReadOnlyStorageError, StorageTouchedError
from fallback_storage.storage import FallbackStorage
from fallback_storage.testing import StorageGuard

__all__ = ["moto_server"]

pytest_plugins = ["pytester"]
HERE = Path(__file__).name


def next_line() -> str:
    """``test_storage_guard.py:N in test_x`` for the line after the caller's."""
    caller = inspect.stack()[1]
    return f"{HERE}:{caller.lineno + 1} in {caller.function}"


def listing(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


@pytest.fixture
def disk(tmp_path: Path) -> FileSystemStorage:
    storage = FileSystemStorage(location=str(tmp_path / "disk"))
    storage.save("kept.txt", ContentFile(b"kept"))
    return storage


# -- any backend -------------------------------------------------------------------------


def test_a_save_is_refused_and_reported_with_the_line_that_made_it(
    disk: FileSystemStorage,
) -> None:
    with pytest.raises(StorageTouchedError) as caught, StorageGuard(disk):
        refused = pytest.raises(ReadOnlyStorageError)
        with refused:
            where = next_line()
            disk.save("new.txt", ContentFile(b"new"))

    assert str(refused.excinfo.value) == (
        "save 'new.txt' on FileSystemStorage was refused; the storage is guarded by "
        "fallback_storage.testing.StorageGuard, which lets only reads reach it, make the code "
        "under test write to another storage."
    )
    first, second = str(caught.value).splitlines()
    assert first == (
        "1 write(s) reached guarded storage(s) FileSystemStorage; make the code under test "
        "write elsewhere, e.g. to a writable backend listed before it in a FallbackStorage, or "
        "wrap it in fallback_storage.storage.ReadOnlyStorage."
    )
    assert second.startswith("  save 'new.txt' on FileSystemStorage (called from ")
    assert second.endswith(f"{where}, thread 'MainThread')")
    assert [write.operation for write in caught.value.writes] == ["save"]  # type: ignore[attr-defined]
    assert listing(Path(disk.location)) == ["kept.txt"]


def test_reads_pass_quietly(disk: FileSystemStorage) -> None:
    with StorageGuard(disk) as guard:
        assert disk.exists("kept.txt") and disk.size("kept.txt") == 4
        with disk.open("kept.txt") as handle:
            assert handle.read() == b"kept"
        with disk.open("kept.txt", mode="r") as handle:
            assert handle.read() == "kept"
        assert disk.listdir("") == ([], ["kept.txt"])
        assert disk.url("kept.txt") == "/media/kept.txt"
        assert disk.get_available_name("kept.txt") != "kept.txt"
        disk.get_modified_time("kept.txt")
    assert guard.writes == []


def test_block_false_lets_writes_through_and_reports_each_once(disk: FileSystemStorage) -> None:
    with (
        pytest.raises(StorageTouchedError) as caught,
        StorageGuard(disk, block=False),
        disk.open("kept.txt", "ab") as handle,
    ):
        handle.write(b"!")
        with disk.open("other.txt", mode="w") as handle:
            handle.write("x")
        disk.save("new.txt", ContentFile(b"new"))
        disk.delete("new.txt")
    operations = [(w.operation, w.name) for w in caught.value.writes]  # type: ignore[attr-defined]
    # save() calls _save() and open() calls _open() inside: one write each, not two.
    assert operations == [
        ("open (mode 'ab')", "kept.txt"),
        ("open (mode 'w')", "other.txt"),
        ("save", "new.txt"),
        ("delete", "new.txt"),
    ]
    assert (Path(disk.location) / "kept.txt").read_bytes() == b"kept!"


def test_an_alias_guards_the_instance_other_code_already_holds(
    aliased_storages: None, prod_dir: Path
) -> None:
    held = storages["prod"]  # taken before the guard, as a module-level reference would be
    with (
        pytest.raises(StorageTouchedError, match=r"guarded storage\(s\) 'prod' \(FileSystemS"),
        StorageGuard("prod"),
        # The code under test swallows the refusal: the guard must still fail.
        contextlib.suppress(PermissionError),
    ):
        held.save("x.txt", ContentFile(b"x"))
    assert listing(prod_dir) == []
    assert "save" not in vars(held)  # the instance is as it was
    assert held.save("after.txt", ContentFile(b"free again")) == "after.txt"


def test_writes_through_a_fallback_storage_reach_the_guarded_layer(
    aliased_storages: None, prod_dir: Path, local_dir: Path
) -> None:
    # "prod" is writable and first: without the guard, the upload would land in production.
    site = FallbackStorage(backends=["prod", "local"])
    with pytest.raises(StorageTouchedError) as caught, StorageGuard("prod"):
        where = next_line()
        assert site.save("upload.txt", ContentFile(b"upload")) == "upload.txt"
    assert "  save 'upload.txt' on FileSystemStorage (called from " in str(caught.value)
    assert f"{where}, thread 'MainThread')" in str(caught.value)
    assert listing(prod_dir) == []
    assert listing(local_dir) == ["upload.txt"]  # the refusal made it fall through


def test_a_guarded_fallback_storage_covers_its_layers_and_lazy_objects() -> None:
    inner = InMemoryStorage()
    site = FallbackStorage(backends=[inner])
    with pytest.raises(StorageTouchedError) as caught, StorageGuard(site, block=False):
        inner.save("around.txt", ContentFile(b"around the wrapper"))
        site.save("through.txt", ContentFile(b"through it"))
    assert [(w.operation, w.storage) for w in caught.value.writes] == [  # type: ignore[attr-defined]
        ("save", "InMemoryStorage"),
        ("save", "FallbackStorage"),  # its layer's _save is part of the same write
    ]

    with (
        override_settings(
            STORAGES={"default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
        ),
        pytest.raises(StorageTouchedError, match="delete 'gone.txt' on InMemoryStorage"),
        StorageGuard(default_storage),
        pytest.raises(PermissionError),
    ):
        storages["default"].delete("gone.txt")


class Publisher(InMemoryStorage):
    """A custom backend with a write method of its own, and a read the guard cannot know."""

    def publish(self, name: str) -> None:
        self.save(f"published/{name}", ContentFile(b"published"))

    def checksum(self, name: str) -> int:
        with self.open(name) as handle:
            return sum(handle.read())


def test_a_backend_s_own_methods_are_writes_unless_listed_as_reads() -> None:
    storage = Publisher()
    storage.save("a.txt", ContentFile(b"a"))
    with pytest.raises(StorageTouchedError) as caught, StorageGuard(storage, block=False):
        storage.publish("a.txt")
        storage.checksum("a.txt")
    assert [(w.operation, w.name) for w in caught.value.writes] == [  # type: ignore[attr-defined]
        ("publish", "a.txt"),
        ("checksum", "a.txt"),
    ]
    with StorageGuard(storage, read_methods=["checksum"]):
        assert storage.checksum("a.txt") == ord("a")


def test_fallback_storage_clear_whiteouts_is_a_write(local: FileSystemStorage) -> None:
    site = FallbackStorage(backends=[local, InMemoryStorage()], whiteouts=True)
    with (
        pytest.raises(StorageTouchedError, match=r"clear_whiteouts None on FallbackStorage"),
        StorageGuard(site),
        pytest.raises(ReadOnlyStorageError),
    ):
        site.clear_whiteouts()


def test_writes_from_other_threads_are_seen_and_the_guard_is_thread_safe(
    disk: FileSystemStorage,
) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def read_all_the_time() -> None:
        while not stop.is_set():
            try:
                assert disk.exists("kept.txt")
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

    readers = [threading.Thread(target=read_all_the_time) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(20):  # enter and leave while other threads call the storage
            with pytest.raises(StorageTouchedError) as caught, StorageGuard(disk):
                writer = threading.Thread(
                    target=lambda: pytest.raises(PermissionError, disk.delete, "kept.txt"),
                    name="writer",
                )
                writer.start()
                writer.join()
            assert [(w.operation, w.thread) for w in caught.value.writes] == [  # type: ignore[attr-defined]
                ("delete", "writer")
            ]
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert errors == []
    assert set(vars(disk)) & {"save", "_save", "delete", "open", "_open"} == set()


def test_nested_and_overlapping_guards(disk: FileSystemStorage) -> None:
    outer = StorageGuard(disk, block=False)
    with pytest.raises(StorageTouchedError) as caught, outer:
        with pytest.raises(StorageTouchedError), StorageGuard(disk, block=False):
            disk.save("one.txt", ContentFile(b"1"))
        disk.save("two.txt", ContentFile(b"2"))  # the outer guard still watches
        with outer:  # re-entered: reports once, when the outermost exit is reached
            disk.delete("two.txt")
    assert [w.name for w in caught.value.writes] == ["one.txt", "two.txt", "two.txt"]  # type: ignore[attr-defined]


def test_as_a_decorator(disk: FileSystemStorage) -> None:
    @StorageGuard(disk)
    def upload() -> None:
        with contextlib.suppress(PermissionError):
            disk.save("d.txt", ContentFile(b"d"))

    with pytest.raises(StorageTouchedError, match="save 'd.txt' on FileSystemStorage"):
        upload()


def test_own_attributes_are_put_back(disk: FileSystemStorage) -> None:
    def own_delete(name: str) -> None:
        raise AssertionError("never called inside the guard")

    disk.delete = own_delete  # type: ignore[method-assign]
    with pytest.raises(StorageTouchedError), StorageGuard(disk), pytest.raises(PermissionError):
        disk.delete("kept.txt")
    assert disk.delete is own_delete


def test_a_method_replaced_during_the_guard_stays_replaced(disk: FileSystemStorage) -> None:
    def replaced(name: str) -> None:
        pass

    with StorageGuard(disk):
        disk.delete = replaced  # type: ignore[method-assign]
    assert disk.delete is replaced
    assert "save" not in vars(disk)


def test_a_save_without_a_name_is_reported_with_the_content_s_name(
    disk: FileSystemStorage,
) -> None:
    with (
        pytest.raises(StorageTouchedError, match="save 'from-content.txt' on FileSystemStorage"),
        StorageGuard(disk),
        pytest.raises(PermissionError),
    ):
        disk.save(None, ContentFile(b"x", name="from-content.txt"))


def test_bad_targets() -> None:
    with pytest.raises(ValueError, match=r"StorageGuard needs storages or aliases .*, got \(\)"):
        StorageGuard()
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        StorageGuard(3)  # type: ignore[arg-type]
    with (
        pytest.raises(Exception, match=r"StorageGuard got 'nope', which is not an alias in "),
        StorageGuard("nope"),
    ):
        pass


# -- S3 ---------------------------------------------------------------------------------


@pytest.fixture
def bucket(moto_server: str) -> Iterator[Production]:
    for production in over_http(moto_server):
        production.before = production.snapshot()
        yield production


def test_s3_storage_api_and_client_writes_are_both_seen(bucket: Production) -> None:
    storage = S3Storage(**bucket.options)
    with (
        pytest.raises(StorageTouchedError) as caught,
        StorageGuard(storage),
        storage.open("a.txt") as handle,
    ):
        assert handle.read() == b"production a"
        with pytest.raises(ReadOnlyStorageError):
            storage.save("new.txt", ContentFile(b"new"))
        with pytest.raises(ReadOnlyStorageError):  # around the storage API, at the client
            where = next_line()
            storage.bucket.Object("a.txt").put(Body=b"overwritten")

    report = str(caught.value)
    assert "  save 'new.txt' on S3Storage(bucket_name='production') (called from " in report
    assert "  PutObject 'a.txt' on s3://production (called from " in report
    assert f"{where}, thread 'MainThread')" in report
    bucket.assert_untouched()  # only GET and HEAD reached it; keys and ETags unchanged


def test_a_guarded_alias_of_a_read_only_s3_layer(bucket: Production, local_dir: Path) -> None:
    s3 = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": bucket.options}
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "production": {
                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                "OPTIONS": {"backend": s3},
            },
        }
    ):
        site = FallbackStorage(backends=[FileSystemStorage(location=str(local_dir)), "production"])
        with StorageGuard("production") as guard:  # a well-configured site: quiet
            with site.open("a.txt") as handle:
                assert handle.read() == b"production a"
            site.save("a.txt", ContentFile(b"local"))
        assert guard.writes == []
        with (
            pytest.raises(StorageTouchedError, match="delete 'a.txt' on S3Storage"),
            StorageGuard("production"),
            pytest.raises(PermissionError),
        ):
            storages["production"].backend.delete("a.txt")  # type: ignore[attr-defined]
    bucket.assert_untouched()


# -- the pytest plugin ------------------------------------------------------------------

INNER_TESTS = """
    import pytest
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    @pytest.fixture
    def seeded():
        default_storage.save("seed.txt", ContentFile(b"seed"))
        yield
        default_storage.delete("seed.txt")

    {marker}
    def test_reads(seeded):
        with default_storage.open("seed.txt") as handle:
            assert handle.read() == b"seed"

    {marker}
    def test_writes(seeded):
        try:
            default_storage.save("upload.txt", ContentFile(b"upload"))
        except PermissionError:
            pass  # swallowed: the plugin must still fail the test
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.Pytester]:
    """In-process runs that share this process's storages: remove what they leave in "default"."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    before = set(storages["default"].listdir("")[1])
    yield pytester
    for name in set(storages["default"].listdir("")[1]) - before:
        storages["default"].delete(name)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "fallback_storage.pytest_plugin", "--strict-markers", *args)


def line_of(path: Path, text: str) -> int:
    lines = path.read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_plugin_marker_fails_the_test_that_writes(inner: pytest.Pytester) -> None:
    path = inner.makepyfile(INNER_TESTS.format(marker='@pytest.mark.untouched_storages("default")'))
    result = run(inner)
    result.assert_outcomes(passed=1, failed=1)
    line = line_of(path, 'save("upload.txt"')
    result.stdout.fnmatch_lines(
        [
            "*StorageTouchedError: 1 write(s) reached guarded storage(s) 'default' "
            "(InMemoryStorage)*",
            f"*save 'upload.txt' on InMemoryStorage (called from test_plugin_marker*.py:{line} in "
            "test_writes, thread 'MainThread')",
            "FAILED *::test_writes - *",
        ]
    )


def test_plugin_option_guards_every_phase(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker=""))
    result = run(inner, "--untouched-storage", "default")
    result.assert_outcomes(errors=2)  # the fixture's own save, in setup
    result.stdout.fnmatch_lines(
        ["*save 'seed.txt' on InMemoryStorage (called from *.py:7 in seeded*"]
    )


def test_plugin_ini_option(inner: pytest.Pytester) -> None:
    inner.makeini("[pytest]\nuntouched_storages = default\n")
    inner.makepyfile(INNER_TESTS.format(marker=""))
    result = run(inner)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*guarded storage(s) 'default' (InMemoryStorage); *"])


def test_plugin_without_marker_or_option_guards_nothing(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker=""))
    run(inner).assert_outcomes(passed=2)


def test_plugin_marker_without_aliases_is_a_usage_error(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker="@pytest.mark.untouched_storages()"))
    result = run(inner)
    result.stdout.fnmatch_lines(["*@pytest.mark.untouched_storages() on *names no storage*"])
    assert result.ret != 0


def test_plugin_fixture_and_a_marker_with_an_instance(inner: pytest.Pytester) -> None:
    path = inner.makepyfile(
        """
        import pytest
        from django.core.files.base import ContentFile
        from django.core.files.storage import InMemoryStorage, default_storage

        SCRATCH = InMemoryStorage()

        def test_fixture_reads(storage_guard):
            guard = storage_guard("default")
            assert not default_storage.exists("nothing.txt")
            assert guard.writes == []

        def test_fixture_sees_a_write(storage_guard):
            storage_guard("default", block=False)
            default_storage.save("f.txt", ContentFile(b"f"))

        @pytest.mark.untouched_storages(SCRATCH)
        def test_marker_with_an_instance():
            SCRATCH.save("m.txt", ContentFile(b"m"))
        """
    )
    result = run(inner)
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_fixture_sees_a_write*",
            f"E * save 'f.txt' on InMemoryStorage (called from *.py:{line_of(path, 'f.txt')} in "
            "test_fixture_sees_a_write*",
            f"*save 'm.txt' on InMemoryStorage (called from *.py:{line_of(path, 'm.txt')} in "
            "test_marker_with_an_instance*",
        ]
    )


def test_a_guard_through_the_plugin_leaves_the_storage_as_it_was(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker='@pytest.mark.untouched_storages("default")'))
    run(inner)
    assert set(vars(storages["default"])) & {"save", "_save", "delete", "open", "_open"} == set()


def test_a_read_only_layer_s_refusals_are_not_writes_but_its_backend_s_are(
    local_dir: Path, prod_dir: Path
) -> None:
    read_only = {
        "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
        "OPTIONS": {
            "backend": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(prod_dir)},
            }
        },
    }
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "production": read_only,
        }
    ):
        # The read-only layer first: every save is refused there and falls through.
        site = FallbackStorage(backends=["production", FileSystemStorage(location=str(local_dir))])
        with StorageGuard("production") as guard:
            assert site.save("upload.txt", ContentFile(b"upload")) == "upload.txt"
        assert guard.writes == []
        with (
            pytest.raises(StorageTouchedError, match="save 'around.txt' on FileSystemStorage"),
            StorageGuard("production", block=False),
        ):
            storages["production"].backend.save("around.txt", ContentFile(b"around"))  # type: ignore[attr-defined]
    assert listing(local_dir) == ["upload.txt"]
    assert listing(prod_dir) == ["around.txt"]  # block=False let it through
