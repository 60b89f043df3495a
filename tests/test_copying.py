"""fallback_storage.copying.open_stream and copy_file: one streamed GET from S3, or open()."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from production import Production, make_storage, moto_server, over_http
from storages.backends.s3 import S3Storage

from fallback_storage.copying import copy_file, open_stream
from fallback_storage.storage import ReadOnlyStorage
from fallback_storage.testing import seeding

__all__ = ["moto_server"]


@pytest.fixture
def bucket(moto_server: str) -> Iterator[Production]:
    yield from over_http(moto_server, {"a.txt": b"production a", "big.bin": b"x" * 300_000})


def test_s3_is_read_with_one_get_and_streamed(bucket: Production, local: FileSystemStorage) -> None:
    bucket.before = bucket.snapshot()
    storage = ReadOnlyStorage(S3Storage(**bucket.options))
    with open_stream(storage, "big.bin") as stream:
        assert stream.size == 300_000
        chunks = [stream.read(65536) for _ in range(6)]
    assert [len(chunk) for chunk in chunks] == [65536] * 4 + [300_000 - 4 * 65536, 0]
    assert copy_file(storage, "a.txt", local) == 12
    assert (Path(local.location) / "a.txt").read_bytes() == b"production a"
    objects = [(method, url) for method, url in bucket.requests() if "?" not in url]
    assert objects == [("GET", "/production/big.bin"), ("GET", "/production/a.txt")]
    bucket.assert_untouched()


def test_a_missing_s3_object_is_file_not_found(bucket: Production) -> None:
    with pytest.raises(FileNotFoundError, match=r"s3://production/nope.txt does not exist"):
        open_stream(ReadOnlyStorage(S3Storage(**bucket.options)), "nope.txt")


def test_gzipped_objects_are_served_decompressed_as_s3storage_does(
    bucket: Production, local: FileSystemStorage
) -> None:
    css = b"body { color: red }\n" * 500
    # Seeded gzipped, as an S3Storage(gzip=True) stores it (in this thread, for seeding()).
    with seeding(bucket.bucket):
        bucket.raw_client.put_object(
            Bucket="production",
            Key="style.css",
            Body=gzip.compress(css),
            ContentEncoding="gzip",
            ContentType="text/css",
        )
    stored = bucket.raw_client.get_object(Bucket="production", Key="style.css")
    assert stored["ContentEncoding"] == "gzip" and gzip.decompress(stored["Body"].read()) == css

    source = ReadOnlyStorage(S3Storage(**bucket.options, gzip=True))
    with open_stream(source, "style.css") as stream:
        assert stream.size is None  # the stored size is the compressed one
    assert copy_file(source, "style.css", local) == len(css)
    assert (Path(local.location) / "style.css").read_bytes() == css


@set_initial_no_auth_action_count(4)
def test_a_403_counts_as_missing_only_with_forbidden_as_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # django-storages sends a session token from the environment along with any key.
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.delenv("AWS_SECURITY_TOKEN")
    with mock_aws():
        owner = boto3.client("s3", region_name="us-east-1")
        with seeding("production"):  # an earlier test may have protected "production"
            owner.create_bucket(Bucket="production")
            owner.put_object(Bucket="production", Key="a.txt", Body=b"a")
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        credentials = {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}

        with pytest.raises(FileNotFoundError):
            open_stream(ReadOnlyStorage(make_storage(**credentials), True), "a.txt")
        with pytest.raises(Exception, match="AccessDenied") as caught:
            open_stream(ReadOnlyStorage(make_storage(**credentials)), "a.txt")
        assert not isinstance(caught.value, FileNotFoundError)


def test_any_other_storage_is_opened_with_open(local: FileSystemStorage) -> None:
    memory = InMemoryStorage()
    memory.save("m.txt", ContentFile(b"in memory"))
    with open_stream(memory, "m.txt") as stream:
        assert stream.size == 9
        assert stream.read() == b"in memory"
    assert copy_file(memory, "m.txt", local) == 9
    assert (Path(local.location) / "m.txt").read_bytes() == b"in memory"


def test_a_handle_that_cannot_tell_its_size_streams_with_size_unknown(
    local: FileSystemStorage,
) -> None:
    storage = _Sizeless()
    storage.save("m.txt", ContentFile(b"no size"))
    with open_stream(storage, "m.txt") as stream:
        assert stream.size is None
        assert stream.read() == b"no size"


class _Sizeless(InMemoryStorage):
    def open(self, name: str, mode: str = "rb") -> Any:
        return _NoSize(super().open(name, mode))


class _NoSize:
    def __init__(self, handle: Any) -> None:
        self.handle = handle

    @property
    def size(self) -> int:
        raise OSError("this handle cannot tell its size")

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        return data

    def close(self) -> None:
        self.handle.close()
