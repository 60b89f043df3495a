"""Faults in the production layer, injected for real on 127.0.0.1.

The production bucket lives in a ThreadedMotoServer; django-storages reaches
it over HTTP through a FaultProxy that forwards, delays, drops connections or
answers with errors. Under each fault local files keep working, new files
land on local disk, errors name the failing layer and nothing hangs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from faults import FaultProxy, finishes_within, start_moto
from storages.backends.s3 import S3Storage

from fallback_storage import FallbackStorage, ReadOnlyStorage
from fallback_storage.testing import seeding

BUCKET = "production"
PROD_BYTES = b"production bytes"
# A hang is anything past this; every fault below resolves in a few seconds at most.
HANG = 60.0
MAX_ATTEMPTS = 2


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, int]]:
    server, address = start_moto()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{address[0]}:{address[1]}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # A port an earlier module's server used may come back, with its bucket protected.
    with seeding(BUCKET):
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="prod.txt", Body=PROD_BYTES)
    yield address
    server.stop()


@pytest.fixture
def proxy(moto: tuple[str, int]) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(moto)
    yield fault_proxy
    fault_proxy.close()


def s3_storage(endpoint_url: str) -> S3Storage:
    return S3Storage(
        bucket_name=BUCKET,
        endpoint_url=endpoint_url,
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        client_config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=1,
            read_timeout=1,
            retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        ),
    )


def layered(local_dir: Path, endpoint_url: str, **options: Any) -> FallbackStorage:
    local = FileSystemStorage(location=str(local_dir))
    local.save("local.txt", ContentFile(b"local bytes"))
    prod = ReadOnlyStorage(s3_storage(endpoint_url), **options)
    return FallbackStorage(backends=[local, prod])


def read(storage: FallbackStorage, name: str) -> bytes:
    with storage.open(name) as file:
        return file.read()  # type: ignore[no-any-return]


def notes(error: BaseException) -> list[str]:
    return list(getattr(error, "__notes__", []))


# How to set the proxy up for each fault, and what the fault raises when it reaches the user.
FAULTS: dict[str, tuple[dict[str, Any], type[Exception]]] = {
    "slow": ({"mode": "delay", "delay": 3.0}, Exception),
    "drop": ({"mode": "drop"}, ConnectionClosedError),
    "500": ({"mode": "status", "status": 500}, ClientError),
    "503": ({"mode": "status", "status": 503}, ClientError),
}


def inject(proxy: FaultProxy, fault: str) -> None:
    for attribute, value in FAULTS[fault][0].items():
        setattr(proxy, attribute, value)


def test_the_proxy_passes_production_through_when_healthy(
    local_dir: Path, proxy: FaultProxy
) -> None:
    storage = layered(local_dir, proxy.endpoint_url)

    assert read(storage, "prod.txt") == PROD_BYTES
    assert {method for method, _ in proxy.requests} <= {"GET", "HEAD"}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_under_a_production_fault_local_files_and_writes_keep_working(
    fault: str, local_dir: Path, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    storage = layered(local_dir, proxy.endpoint_url)
    inject(proxy, fault)

    def work() -> None:
        assert read(storage, "local.txt") == b"local bytes"
        assert storage.exists("local.txt")
        assert storage.size("local.txt") == len(b"local bytes")
        with caplog.at_level(logging.WARNING, logger="fallback_storage.available_names"):
            saved = storage.save("upload.txt", ContentFile(b"new bytes"))
        # Production could not say whether upload.txt exists there, so the
        # new file takes a name that cannot shadow it, and lands locally.
        assert saved != "upload.txt"
        assert saved.startswith("upload_") and saved.endswith(".txt")
        assert (local_dir / saved).read_bytes() == b"new bytes"
        assert "could not tell whether 'upload.txt' exists in backend 1" in caplog.text
        storage.delete(saved)
        assert not (local_dir / saved).exists()

    finishes_within(HANG, work)
    assert all(method in {"GET", "HEAD"} for method, _ in proxy.requests)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_production_fault_reaches_the_user_naming_the_layer_after_bounded_retries(
    fault: str, local_dir: Path, proxy: FaultProxy
) -> None:
    raised = FAULTS[fault][1]
    storage = layered(local_dir, proxy.endpoint_url)
    inject(proxy, fault)

    with pytest.raises(raised) as caught:
        finishes_within(HANG, lambda: storage.open("prod.txt"))

    assert notes(caught.value)[0].startswith("open() failed in backend 0 (FileSystemStorage): ")
    assert (
        notes(caught.value)[1].startswith(
            f"open() failed in backend 1 (ReadOnlyStorage(S3Storage)): {raised.__name__}"
        )
        or raised is Exception
    )
    # One HEAD per attempt, and no more attempts than the client config allows.
    assert 1 <= len(proxy.requests) <= MAX_ATTEMPTS


def test_production_down_connection_refused(local_dir: Path) -> None:
    server, address = start_moto()
    endpoint_url = f"http://{address[0]}:{address[1]}"
    storage = layered(local_dir, endpoint_url)
    server.stop()

    with pytest.raises(EndpointConnectionError) as caught:
        finishes_within(HANG, lambda: storage.exists("prod.txt"))
    assert notes(caught.value) == ["exists() failed in backend 1 (ReadOnlyStorage(S3Storage))."]

    def work() -> str:
        assert read(storage, "local.txt") == b"local bytes"
        return storage.save("upload.txt", ContentFile(b"new bytes"))

    saved = finishes_within(HANG, work)
    assert (local_dir / saved).read_bytes() == b"new bytes"


# -- 403 for missing keys (credentials without s3:ListBucket) ---------------------------


def test_a_403_for_a_missing_key_is_an_error_by_default(local_dir: Path, proxy: FaultProxy) -> None:
    storage = layered(local_dir, proxy.endpoint_url)
    proxy.mode = "forbid_missing"

    with pytest.raises(ClientError) as caught:
        storage.exists("missing.txt")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert notes(caught.value) == ["exists() failed in backend 1 (ReadOnlyStorage(S3Storage))."]


def test_forbidden_as_missing_counts_a_403_as_missing(local_dir: Path, proxy: FaultProxy) -> None:
    storage = layered(local_dir, proxy.endpoint_url, forbidden_as_missing=True)
    proxy.mode = "forbid_missing"

    assert storage.exists("missing.txt") is False
    assert storage.save("missing.txt", ContentFile(b"new")) == "missing.txt"
    assert (local_dir / "missing.txt").read_bytes() == b"new"
    prod = storage.backends[1]
    with pytest.raises(FileNotFoundError) as caught:
        prod.size("other.txt")
    assert str(caught.value) == (
        "[Errno 2] S3Storage answered 403 Forbidden for 'other.txt', counted as missing because "
        "ReadOnlyStorage 'forbidden_as_missing' is True: 'other.txt'"
    )
    with pytest.raises(FileNotFoundError):
        storage.open("other.txt")
    with pytest.raises(FileNotFoundError):
        storage.get_modified_time("other.txt")
    # Files that exist are still read.
    assert read(storage, "prod.txt") == PROD_BYTES
    assert {method for method, _ in proxy.requests} <= {"GET", "HEAD"}


def test_forbidden_as_missing_leaves_other_errors_alone(local_dir: Path, proxy: FaultProxy) -> None:
    storage = layered(local_dir, proxy.endpoint_url, forbidden_as_missing=True)
    proxy.mode, proxy.status = "status", 500

    with pytest.raises(ClientError):
        storage.exists("missing.txt")
    with pytest.raises(ClientError):
        storage.size("missing.txt")


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_forbidden_as_missing_must_be_a_bool(value: object) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        ReadOnlyStorage(FileSystemStorage(), forbidden_as_missing=cast(bool, value))

    assert str(caught.value) == (
        f"ReadOnlyStorage 'forbidden_as_missing' must be True or False, got {value!r}; "
        f"set it to a bool."
    )


def test_forbidden_as_missing_deconstructs() -> None:
    storage = ReadOnlyStorage(
        "django.core.files.storage.InMemoryStorage", forbidden_as_missing=True
    )

    path, args, kwargs = storage.deconstruct()

    assert path == "fallback_storage.storage.ReadOnlyStorage"
    assert args == ("django.core.files.storage.InMemoryStorage",)
    assert kwargs == {"forbidden_as_missing": True}
