"""The lookup's rules compose: location cache, whiteouts and copy-on-read, in any combination.

Each test uses the development set-up (a local FileSystemStorage over a
ReadOnlyStorage of django-storages' S3Storage on a moto server on 127.0.0.1,
requests counted by the server) and checks that what the cache answers stays
true after every change the other rules make: a delete that writes a whiteout,
a copy-up, a save and a clear of markers. "Another process" is a second
FallbackStorage sharing the ``cache_alias``: it shares only the Django cache.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from counting_s3 import CountingS3Server
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from storages.backends.s3 import S3Storage

from fallback_storage.storage import FallbackStorage, ReadOnlyStorage

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
# Every combination of the three rules, cache on (private or shared) in each.
COMBINATIONS = [
    {"cache_alias": alias, "whiteouts": whiteouts, "copy_on_read": copy_on_read}
    for alias, whiteouts, copy_on_read in itertools.product(
        [None, "locations"], [True, False], [True, False]
    )
]


@pytest.fixture(autouse=True)
def shared_caches() -> Iterator[None]:
    with override_settings(CACHES={"locations": {"BACKEND": LOCMEM, "LOCATION": "lookup"}}):
        yield


@pytest.fixture
def prod_client(s3_server: CountingS3Server) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield client
    client.close()


@pytest.fixture
def make(
    local_dir: Path,
    production_bucket: str,
    s3_storage_factory: Callable[..., S3Storage],
    prod_client: Any,
) -> Callable[..., FallbackStorage]:
    """Build a dev storage over the seeded bucket, which also gets docs/a.txt and docs/b.txt."""
    prod_client.put_object(Bucket=production_bucket, Key="docs/a.txt", Body=b"prod a")
    prod_client.put_object(Bucket=production_bucket, Key="docs/b.txt", Body=b"prod b")

    def build(**options: Any) -> FallbackStorage:
        storage = FallbackStorage(
            backends=[
                FileSystemStorage(location=str(local_dir), base_url="/local/"),
                ReadOnlyStorage(s3_storage_factory(production_bucket)),
            ],
            cache_timeout=300,
            **options,
        )
        assert storage.backends  # built (and the bucket guarded) outside any count
        return storage

    return build


def read(storage: FallbackStorage, name: str) -> bytes:
    with storage.open(name) as handle:
        data: bytes = handle.read()
    return data


def unchanged(client: Any, bucket: str) -> dict[str, str]:
    return {item["Key"]: item["ETag"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]}


def test_the_rules_once_refused_together_now_compose(make: Callable[..., FallbackStorage]) -> None:
    storage = make(whiteouts=True, copy_on_read=True, cache_alias="locations")
    assert (storage.whiteouts, storage.copy_on_read) == (True, True)


@pytest.mark.parametrize("options", COMBINATIONS)
def test_cache_answers_stay_true_after_every_change(
    make: Callable[..., FallbackStorage],
    options: dict[str, Any],
    local_dir: Path,
    production_bucket: str,
    prod_client: Any,
) -> None:
    before = unchanged(prod_client, production_bucket)
    storage = make(**options)
    others = [storage]
    if options["cache_alias"]:
        others.append(make(**options))  # another process, sharing the cache
    for each in others:  # everyone learns where things are
        assert each.exists("prod-only.txt") and each.exists("docs/a.txt")
        assert not each.exists("new.txt")

    # A copy-up (copy-on-read, or an append): the file is local from now on.
    if options["copy_on_read"]:
        assert read(storage, "prod-only.txt") == b"from production"
    else:
        with storage.open("prod-only.txt", "ab") as handle:
            handle.write(b"!")
    assert (local_dir / "prod-only.txt").exists()
    for each in others:
        assert each.url("prod-only.txt") == "/local/prod-only.txt"

    # A save of a name known to be missing.
    assert storage.save("new.txt", ContentFile(b"new")) == "new.txt"
    for each in others:
        assert each.exists("new.txt") and each.size("new.txt") == 3

    # A delete: with whiteouts it hides production's file; without, the 1.x rule keeps it.
    storage.delete("docs/a.txt")
    for each in others:
        assert each.exists("docs/a.txt") is not options["whiteouts"]
    # A directory delete hides every name under it, those known to the cache included,
    # and deletes the local files under it, which the cache knew as local.
    if options["whiteouts"]:
        storage.save("docs/mine.txt", ContentFile(b"mine"))
        for each in others:
            assert each.exists("docs/mine.txt")
    storage.delete("docs")
    for each in others:
        assert each.exists("docs/b.txt") is not options["whiteouts"]
        assert not each.exists("docs/mine.txt")
    if options["whiteouts"]:
        # Clearing the markers shows production's files again, at once, everywhere.
        # (the directory delete took docs/a.txt's marker with the rest of docs/)
        assert storage.clear_whiteouts() == ["docs"]
        for each in others:
            assert each.exists("docs/a.txt") and read(each, "docs/b.txt") == b"prod b"
    assert unchanged(prod_client, production_bucket) == before


@pytest.mark.parametrize("whiteouts", [True, False])
def test_with_the_cache_repeated_reads_of_a_production_file_send_no_request(
    make: Callable[..., FallbackStorage],
    s3_server: CountingS3Server,
    production_bucket: str,
    whiteouts: bool,
) -> None:
    storage = make(whiteouts=whiteouts)
    assert storage.exists("prod-only.txt") is True
    first_url = storage.url("prod-only.txt")
    assert storage.size("prod-only.txt") == len(b"from production")
    assert storage.exists("missing.txt") is False
    s3_server.clear()

    for _ in range(3):
        assert storage.exists("prod-only.txt") is True
        assert storage.url("prod-only.txt").split("?")[0] == first_url.split("?")[0]
        assert storage.size("prod-only.txt") == len(b"from production")
        assert storage.exists("missing.txt") is False

    assert s3_server.to_bucket(production_bucket) == []


def test_a_hidden_name_is_missing_for_every_read(make: Callable[..., FallbackStorage]) -> None:
    storage = make(whiteouts=True, copy_on_read=True)
    storage.delete("prod-only.txt")

    assert storage.exists("prod-only.txt") is False
    for reading in (storage.size, storage.open, storage.get_modified_time):
        with pytest.raises(FileNotFoundError):
            reading("prod-only.txt")
    assert storage.url("prod-only.txt").split("?")[0].endswith("/prod-only.txt")
    assert storage.listdir("") == (["docs"], ["both.txt"])
