"""S3 round trips: FallbackStorage makes no request the serving backend would not make itself.

Requests are counted by the moto server on 127.0.0.1 (what reached the
bucket), for ``FallbackStorage([FileSystemStorage, ReadOnlyStorage(S3Storage)])``
and for the same ``S3Storage`` called directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from counting_s3 import CountingS3Server, Request
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage
from storages.backends.s3 import S3Storage

from fallback_storage.storage import FallbackStorage, ReadOnlyStorage


def read(storage: Storage, name: str) -> bytes:
    with storage.open(name) as handle:
        data: bytes = handle.read()
    return data


OPERATIONS: dict[str, Callable[[Storage, str], object]] = {
    "exists": lambda storage, name: storage.exists(name),
    "url": lambda storage, name: storage.url(name),
    "size": lambda storage, name: storage.size(name),
    "open+read": read,
    "get_modified_time": lambda storage, name: storage.get_modified_time(name),
}


def requests_of(
    server: CountingS3Server, bucket: str, operation: Callable[[Storage, str], object], *call: Any
) -> tuple[list[Request], object]:
    server.clear()
    try:
        result: object = operation(*call)
    except Exception as error:  # noqa: BLE001 - compared by the caller
        result = type(error)
    return server.to_bucket(bucket), result


@pytest.fixture
def layered(
    local: FileSystemStorage,
    production_bucket: str,
    s3_storage_factory: Callable[..., S3Storage],
) -> tuple[FallbackStorage, S3Storage]:
    local.save("local-only.txt", ContentFile(b"local"))
    local.save("both.txt", ContentFile(b"local copy"))
    return (
        FallbackStorage(backends=[local, ReadOnlyStorage(s3_storage_factory(production_bucket))]),
        s3_storage_factory(production_bucket),
    )


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("name", ["local-only.txt", "both.txt"])
def test_a_local_file_costs_no_s3_request(
    layered: tuple[FallbackStorage, S3Storage],
    s3_server: CountingS3Server,
    production_bucket: str,
    operation: str,
    name: str,
) -> None:
    storage, _ = layered
    assert storage.backends  # build (and guard) the backends outside the count

    requests, _ = requests_of(s3_server, production_bucket, OPERATIONS[operation], storage, name)

    assert requests == []


@pytest.mark.parametrize("name", ["prod-only.txt", "missing.txt"])
def test_url_makes_no_s3_request_for_a_production_file_or_a_missing_one(
    layered: tuple[FallbackStorage, S3Storage],
    s3_server: CountingS3Server,
    production_bucket: str,
    name: str,
) -> None:
    storage, direct = layered
    assert storage.backends

    requests, url = requests_of(s3_server, production_bucket, OPERATIONS["url"], storage, name)

    assert requests == []
    assert isinstance(url, str)
    assert url.split("?")[0] == direct.url(name).split("?")[0]


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op != "url"])
@pytest.mark.parametrize("name", ["prod-only.txt", "missing.txt"])
def test_a_file_not_on_disk_costs_exactly_the_requests_s3storage_makes_itself(
    layered: tuple[FallbackStorage, S3Storage],
    s3_server: CountingS3Server,
    production_bucket: str,
    operation: str,
    name: str,
) -> None:
    storage, direct = layered
    assert storage.backends
    assert direct.connection is not None  # warm both clients up alike

    direct_requests, direct_result = requests_of(
        s3_server, production_bucket, OPERATIONS[operation], direct, name
    )
    fallback_requests, fallback_result = requests_of(
        s3_server, production_bucket, OPERATIONS[operation], storage, name
    )

    assert direct_requests  # S3Storage itself does make requests here
    assert fallback_requests == direct_requests
    if name == "prod-only.txt":
        assert fallback_result == direct_result


def test_listdir_makes_the_listing_requests_of_s3storage_and_no_more(
    layered: tuple[FallbackStorage, S3Storage],
    s3_server: CountingS3Server,
    production_bucket: str,
) -> None:
    storage, direct = layered
    assert storage.backends
    assert direct.connection is not None

    direct_requests, direct_listing = requests_of(
        s3_server, production_bucket, lambda s, n: s.listdir(n), direct, ""
    )
    fallback_requests, fallback_listing = requests_of(
        s3_server, production_bucket, lambda s, n: s.listdir(n), storage, ""
    )

    assert fallback_requests == direct_requests == [("GET", f"/{production_bucket}")]
    assert isinstance(fallback_listing, tuple)
    assert fallback_listing[0] == []
    assert sorted(fallback_listing[1]) == ["both.txt", "local-only.txt", "prod-only.txt"]
    assert direct_listing == ([], ["both.txt", "prod-only.txt"])


def test_saving_a_new_file_asks_production_once_whether_the_name_is_taken(
    layered: tuple[FallbackStorage, S3Storage],
    s3_server: CountingS3Server,
    production_bucket: str,
) -> None:
    storage, _ = layered
    assert storage.backends

    requests, name = requests_of(
        s3_server,
        production_bucket,
        lambda s, n: s.save(n, ContentFile(b"new")),
        storage,
        "new.txt",
    )

    # One HEAD, so the new file cannot shadow a production one; no write.
    assert requests == [("HEAD", f"/{production_bucket}/new.txt")]
    assert name == "new.txt"
