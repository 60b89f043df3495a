"""The location cache: options, S3 requests saved, invalidation, expiry, sharing, threads.

Real FileSystemStorage on temporary directories and django-storages S3Storage
against a moto server on 127.0.0.1; requests are counted by the server.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from counting_s3 import CountingS3Server
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.test import override_settings
from freezegun import freeze_time
from storages.backends.s3 import S3Storage

from fallback_storage.storage import FallbackStorage, ReadOnlyStorage

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@pytest.fixture
def layered(
    local: FileSystemStorage,
    production_bucket: str,
    s3_storage_factory: Callable[..., S3Storage],
) -> Callable[..., FallbackStorage]:
    """Build ``FallbackStorage([local, ReadOnlyStorage(S3)])`` with the given options."""

    def build(**options: Any) -> FallbackStorage:
        storage = FallbackStorage(
            backends=[
                FileSystemStorage(location=local.location, base_url="/local/"),
                ReadOnlyStorage(s3_storage_factory(production_bucket)),
            ],
            **options,
        )
        assert storage.backends  # build and guard outside the counts
        return storage

    return build


@pytest.fixture
def shared_caches() -> Iterator[None]:
    with override_settings(
        CACHES={
            "default": {"BACKEND": LOCMEM, "LOCATION": "default"},
            "locations": {"BACKEND": LOCMEM, "LOCATION": "locations"},
        }
    ):
        yield


def requests_during(server: CountingS3Server, bucket: str, action: Callable[[], object]) -> int:
    server.clear()
    action()
    return len(server.to_bucket(bucket))


# -- options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"cache_timeout": -1},
            "FallbackStorage 'cache_timeout' must be a positive, finite number of seconds, "
            "got -1; set it to e.g. 60, or to None to turn the location cache off.",
        ),
        (
            {"cache_timeout": 0},
            "FallbackStorage 'cache_timeout' must be a positive, finite number of seconds, "
            "got 0; set it to e.g. 60, or to None to turn the location cache off.",
        ),
        (
            {"cache_timeout": float("inf")},
            "FallbackStorage 'cache_timeout' must be a positive, finite number of seconds, "
            "got inf; set it to e.g. 60, or to None to turn the location cache off.",
        ),
        (
            {"cache_timeout": "60"},
            "FallbackStorage 'cache_timeout' must be a number of seconds or None, "
            "got '60'; set it to e.g. 60, or to None to turn the location cache off.",
        ),
        (
            {"cache_timeout": True},
            "FallbackStorage 'cache_timeout' must be a number of seconds or None, "
            "got True; set it to e.g. 60, or to None to turn the location cache off.",
        ),
        (
            {"cache_timeout": 60, "cache_alias": 3},
            "FallbackStorage 'cache_alias' must be an alias in settings.CACHES or None, "
            "got 3; set it to a string such as 'default'.",
        ),
        (
            {"cache_alias": "default"},
            "FallbackStorage 'cache_alias' is 'default' but 'cache_timeout' is None, "
            "so the location cache is off; set 'cache_timeout' to a number of seconds "
            "or remove 'cache_alias'.",
        ),
        (
            {"cache_timeot": 60},
            "FallbackStorage got unknown options ['cache_timeot']; "
            "remove them or use one of ['backends', 'whiteouts', 'copy_on_read', "
            "'copy_on_read_max_size', 'copy_on_read_skip', 'cache_timeout', 'cache_alias', "
            "'skip_unreachable_for'].",
        ),
    ],
)
def test_bad_options_are_refused_at_construction(
    local: FileSystemStorage, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=[local], **options)

    assert str(caught.value) == message


def test_an_unknown_cache_alias_is_refused_at_first_use(
    local: FileSystemStorage, shared_caches: None
) -> None:
    storage = FallbackStorage(backends=[local], cache_timeout=60, cache_alias="nope")

    with pytest.raises(ImproperlyConfigured) as caught:
        storage.exists("a.txt")

    assert str(caught.value) == (
        "FallbackStorage 'cache_alias' 'nope' is not an alias in settings.CACHES; "
        "add it there, or remove 'cache_alias' to use a private local-memory cache."
    )


def test_the_cache_options_survive_deconstruction_and_pickling(
    local: FileSystemStorage, local_dir: Path
) -> None:
    storage = FallbackStorage(backends=[local], cache_timeout=30, cache_alias=None)
    _, _, kwargs = storage.deconstruct()
    assert kwargs["cache_timeout"] == 30

    (local_dir / "a.txt").write_bytes(b"a")
    assert storage.exists("a.txt")
    copy = pickle.loads(pickle.dumps(storage))
    (local_dir / "a.txt").unlink()

    assert copy.exists("a.txt") is False  # a copy starts with an empty private cache
    assert storage.exists("a.txt") is True  # the original still remembers


# -- S3 requests saved --------------------------------------------------------------


@pytest.mark.parametrize("cache_timeout", [None, 60])
def test_repeated_exists_of_a_production_file_heads_it_once_with_the_cache(
    layered: Callable[..., FallbackStorage],
    s3_server: CountingS3Server,
    production_bucket: str,
    cache_timeout: int | None,
) -> None:
    storage = layered(cache_timeout=cache_timeout)

    counts = [
        requests_during(s3_server, production_bucket, lambda: storage.exists("prod-only.txt"))
        for _ in range(3)
    ]

    assert counts == ([1, 0, 0] if cache_timeout else [1, 1, 1])


@pytest.mark.parametrize(
    "operation",
    [
        lambda storage: storage.exists("missing.txt"),
        lambda storage: storage.size("missing.txt"),
        lambda storage: storage.open("missing.txt"),
        lambda storage: storage.get_modified_time("missing.txt"),
    ],
    ids=["exists", "size", "open", "get_modified_time"],
)
def test_a_missing_name_is_asked_for_once_within_the_timeout(
    layered: Callable[..., FallbackStorage],
    s3_server: CountingS3Server,
    production_bucket: str,
    operation: Callable[[FallbackStorage], object],
) -> None:
    storage = layered(cache_timeout=60)

    def attempt() -> None:
        with contextlib.suppress(FileNotFoundError):
            operation(storage)

    counts = [requests_during(s3_server, production_bucket, attempt) for _ in range(3)]

    assert counts == [1, 0, 0]


def test_a_remembered_miss_raises_file_not_found_saying_the_cache_remembers(
    layered: Callable[..., FallbackStorage],
) -> None:
    storage = layered(cache_timeout=60)
    assert storage.exists("missing.txt") is False

    with pytest.raises(FileNotFoundError) as caught:
        storage.size("missing.txt")

    assert str(caught.value) == "[Errno 2] 'missing.txt' is in no backend: 'missing.txt'"
    assert getattr(caught.value, "__notes__", None) == [
        "The location cache remembers that no backend has 'missing.txt'; it forgets after "
        "60 seconds, or when the file is saved through this storage."
    ]


@pytest.mark.parametrize("cache_timeout", [None, 60])
def test_reads_of_a_production_file_make_only_s3storages_own_requests(
    layered: Callable[..., FallbackStorage],
    s3_server: CountingS3Server,
    production_bucket: str,
    s3_storage_factory: Callable[..., S3Storage],
    cache_timeout: int | None,
) -> None:
    storage = layered(cache_timeout=cache_timeout)
    direct = s3_storage_factory(production_bucket)
    assert direct.connection is not None

    def read(target: S3Storage | FallbackStorage) -> object:
        with target.open("prod-only.txt") as handle:
            return handle.read()

    for action, learned in (
        (lambda target: target.size("prod-only.txt"), True),
        (lambda target: target.get_modified_time("prod-only.txt"), False),
        (read, False),
    ):
        direct_count = requests_during(s3_server, production_bucket, partial(action, direct))
        counts = [
            requests_during(s3_server, production_bucket, partial(action, storage))
            for _ in range(2)
        ]
        # The cache remembers a production file's size too: asking again costs nothing.
        repeated = 0 if learned and cache_timeout else direct_count
        assert counts == [direct_count, repeated]
    assert storage.url("prod-only.txt").startswith(f"{s3_server.endpoint_url}/")


@pytest.mark.parametrize("cache_timeout", [None, 60])
def test_with_two_buckets_the_cache_stops_heading_the_first_for_a_file_of_the_second(
    local: FileSystemStorage,
    production_bucket: str,
    s3_server: CountingS3Server,
    s3_storage_factory: Callable[..., S3Storage],
    cache_timeout: int | None,
) -> None:
    staging_bucket = f"staging-{production_bucket}"
    staging_client = s3_storage_factory(staging_bucket).connection.meta.client
    staging_client.create_bucket(Bucket=staging_bucket)
    staging_client.put_object(Bucket=staging_bucket, Key="staged.txt", Body=b"staged")
    storage = FallbackStorage(
        backends=[
            local,
            ReadOnlyStorage(s3_storage_factory(staging_bucket)),
            ReadOnlyStorage(s3_storage_factory(production_bucket)),
        ],
        cache_timeout=cache_timeout,
    )
    assert storage.backends

    url_counts = [
        requests_during(s3_server, staging_bucket, lambda: storage.url("prod-only.txt"))
        for _ in range(3)
    ]
    exists_counts = [
        requests_during(s3_server, staging_bucket, lambda: storage.exists("prod-only.txt"))
        for _ in range(2)
    ]

    staged_counts = [
        requests_during(s3_server, staging_bucket, lambda: storage.url("staged.txt"))
        for _ in range(3)
    ]

    assert url_counts == ([1, 0, 0] if cache_timeout else [1, 1, 1])
    assert staged_counts == ([1, 0, 0] if cache_timeout else [1, 1, 1])
    assert f"/{staging_bucket}/staged.txt" in storage.url("staged.txt")
    assert exists_counts == ([0, 0] if cache_timeout else [1, 1])
    assert f"/{production_bucket}/prod-only.txt" in storage.url("prod-only.txt")


# -- invalidation -------------------------------------------------------------------


def test_saving_through_the_storage_forgets_a_remembered_miss(
    layered: Callable[..., FallbackStorage],
) -> None:
    storage = layered(cache_timeout=60)
    assert storage.exists("new.txt") is False

    assert storage.save("new.txt", ContentFile(b"new")) == "new.txt"

    assert storage.exists("new.txt") is True
    assert storage.size("new.txt") == 3


def test_saving_under_another_name_forgets_the_final_name(
    layered: Callable[..., FallbackStorage], local_dir: Path
) -> None:
    storage = layered(cache_timeout=60)
    (local_dir / "taken.txt").write_bytes(b"old")
    assert storage.exists("taken.txt") is True
    remembered = storage._cache
    assert remembered is not None
    assert remembered.lookup("taken_abcdefg.txt") is None
    storage._cache.remember("taken_abcdefg.txt", 2, False, remembered.token())  # type: ignore[union-attr]

    final = storage._save("taken_abcdefg.txt", ContentFile(b"x"))

    assert final == "taken_abcdefg.txt"
    assert storage.exists(final) is True


def test_deleting_through_the_storage_forgets_a_remembered_hit(
    layered: Callable[..., FallbackStorage], local_dir: Path
) -> None:
    storage = layered(cache_timeout=60)
    (local_dir / "old.txt").write_bytes(b"old")
    assert storage.exists("old.txt") is True

    storage.delete("old.txt")

    assert storage.exists("old.txt") is False


def test_opening_for_writing_through_the_storage_forgets_a_remembered_miss(
    layered: Callable[..., FallbackStorage],
) -> None:
    storage = layered(cache_timeout=60)
    assert storage.exists("written.txt") is False

    with storage.open("written.txt", "wb") as handle:
        handle.write(b"written")

    assert storage.exists("written.txt") is True
    with storage.open("written.txt") as handle:
        assert handle.read() == b"written"


def test_a_lookup_that_raced_a_write_is_not_remembered(
    layered: Callable[..., FallbackStorage],
) -> None:
    storage = layered(cache_timeout=60)
    cache = storage._cache
    assert cache is not None
    token = cache.token()  # a reader starts asking the backends...

    storage.save("raced.txt", ContentFile(b"r"))  # ...a write lands meanwhile...
    cache.remember("raced.txt", 2, False, token)  # ...and the stale answer comes back

    assert storage.exists("raced.txt") is True


# -- expiry --------------------------------------------------------------------------


@pytest.mark.parametrize("cache_alias", [None, "locations"])
def test_a_remembered_location_expires_after_the_timeout(
    layered: Callable[..., FallbackStorage],
    s3_server: CountingS3Server,
    production_bucket: str,
    local_dir: Path,
    shared_caches: None,
    cache_alias: str | None,
) -> None:
    with freeze_time("2026-01-01 12:00:00") as frozen:
        storage = layered(cache_timeout=60, cache_alias=cache_alias)
        assert storage.exists("elsewhere.txt") is False
        (local_dir / "elsewhere.txt").write_bytes(b"written around the storage")

        frozen.tick(59)
        still = storage.exists("elsewhere.txt")
        frozen.tick(2)
        later = storage.exists("elsewhere.txt")
        heads = requests_during(
            s3_server, production_bucket, lambda: storage.exists("prod-only.txt")
        )
        frozen.tick(61)
        heads_after_expiry = requests_during(
            s3_server, production_bucket, lambda: storage.exists("prod-only.txt")
        )

    assert (still, later) == (False, True)
    assert (heads, heads_after_expiry) == (1, 1)


# -- a shared cache --------------------------------------------------------------------


def test_two_storages_with_the_same_configuration_share_a_cache_alias(
    layered: Callable[..., FallbackStorage],
    s3_server: CountingS3Server,
    production_bucket: str,
    shared_caches: None,
) -> None:
    first = layered(cache_timeout=60, cache_alias="locations")
    second = layered(cache_timeout=60, cache_alias="locations")

    learned = requests_during(s3_server, production_bucket, lambda: first.exists("prod-only.txt"))
    shared = requests_during(s3_server, production_bucket, lambda: second.exists("prod-only.txt"))
    assert (learned, shared) == (1, 0)

    assert first.exists("shared.txt") is False
    second.save("shared.txt", ContentFile(b"s"))
    assert first.exists("shared.txt") is True


def test_storages_with_different_backends_do_not_share_answers(
    layered: Callable[..., FallbackStorage],
    tmp_path: Path,
    production_bucket: str,
    s3_storage_factory: Callable[..., S3Storage],
    shared_caches: None,
) -> None:
    first = layered(cache_timeout=60, cache_alias="locations")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    (other_dir / "x.txt").write_bytes(b"x")
    other = FallbackStorage(
        backends=[
            FileSystemStorage(location=str(other_dir)),
            ReadOnlyStorage(s3_storage_factory(production_bucket)),
        ],
        cache_timeout=60,
        cache_alias="locations",
    )

    assert first.exists("x.txt") is False
    assert other.exists("x.txt") is True
    assert first._cache is not None and other._cache is not None
    assert first._cache.namespace != other._cache.namespace


def test_shared_cache_keys_are_valid_for_any_name(
    layered: Callable[..., FallbackStorage], shared_caches: None
) -> None:
    storage = layered(cache_timeout=60, cache_alias="locations")
    name = "a name with spaces and ü " + "x" * 300 + ".txt"

    # A CacheKeyWarning (long key, spaces) would be an error in this test run.
    assert storage.exists(name) is False
    assert storage.exists(name) is False


# -- the dispatch rules stay -----------------------------------------------------------


def test_with_the_cache_a_suspicious_name_is_still_refused_at_once(
    layered: Callable[..., FallbackStorage],
) -> None:
    storage = layered(cache_timeout=60)

    for operation in (storage.exists, storage.size, storage.url):
        with pytest.raises(SuspiciousOperation):
            operation("../../etc/passwd")


def test_with_the_cache_the_first_miss_still_names_every_backend(
    layered: Callable[..., FallbackStorage],
) -> None:
    storage = layered(cache_timeout=60)

    with pytest.raises(FileNotFoundError) as caught:
        storage.size("missing.txt")

    assert [note.split(":")[0] for note in getattr(caught.value, "__notes__", [])] == [
        "size() failed in backend 0 (FileSystemStorage)",
        "size() failed in backend 1 (ReadOnlyStorage(S3Storage))",
    ]


# -- threads -------------------------------------------------------------------------------


def test_threads_saving_deleting_and_reading_agree_with_the_disk_afterwards(
    local: FileSystemStorage, local_dir: Path, prod: FileSystemStorage, prod_dir: Path
) -> None:
    (prod_dir / "prod.txt").write_bytes(b"p")
    storage = FallbackStorage(backends=[local, ReadOnlyStorage(prod)], cache_timeout=60)
    names = [f"n{number}.txt" for number in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for round_number in range(40):
                name = names[(worker + round_number) % len(names)]
                storage.exists(name)
                storage.url("prod.txt")
                if (worker + round_number) % 3 == 0:
                    with storage.open(name, "wb") as handle:
                        handle.write(b"w")
                elif (worker + round_number) % 3 == 1:
                    storage.delete(name)
                assert storage.exists("prod.txt")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert {name: storage.exists(name) for name in names} == {
        name: (local_dir / name).exists() for name in names
    }


def test_a_file_remembered_locally_but_removed_around_the_storage_is_looked_up_again(
    layered: Callable[..., FallbackStorage], local_dir: Path
) -> None:
    storage = layered(cache_timeout=60)
    (local_dir / "both.txt").write_bytes(b"local copy")
    (local_dir / "gone.txt").write_bytes(b"gone")
    assert storage.exists("both.txt") and storage.exists("gone.txt")
    (local_dir / "both.txt").unlink()
    (local_dir / "gone.txt").unlink()

    assert storage.size("both.txt") == len(b"production copy")
    with pytest.raises(FileNotFoundError):
        storage.size("gone.txt")
    assert storage.exists("gone.txt") is False


def test_a_name_the_cache_places_in_the_writable_layer_is_asked_there_once_when_it_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cheap step asks the writable layer where the cache says the name is; when the file was
    # deleted behind the storage's back, the search goes on below without asking that layer again,
    # and the cache learns where the name is now.
    local = FileSystemStorage(location=tmp_path)
    production = InMemoryStorage()
    production.save("a.txt", ContentFile(b"prod"))
    local.save("a.txt", ContentFile(b"local!"))
    storage = FallbackStorage(backends=[local, ReadOnlyStorage(production)], cache_timeout=60)
    assert storage.size("a.txt") == 6
    (tmp_path / "a.txt").unlink()
    asked: list[str] = []
    size = local.size

    def counted_size(name: str) -> int:
        asked.append(name)
        return size(name)

    monkeypatch.setattr(local, "size", counted_size)
    assert storage.size("a.txt") == 4
    assert asked == ["a.txt"]
    assert storage.size("a.txt") == 4
    assert asked == ["a.txt"]  # the cache now places it in production, with its size
