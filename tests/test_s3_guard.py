"""The S3 guard: a protected S3Storage never writes to its bucket, whatever path a write takes.

Every test seeds a "production" bucket, protects an S3Storage on it and records, independently
of the guard, every request that reached moto: moto's own request recorder for the in-process
``mock_aws`` runs, and the access log of a ``ThreadedMotoServer`` on 127.0.0.1 for the runs over
real HTTP. ``Production.assert_untouched()`` then checks that only GET and HEAD reached the bucket
and that its keys, ETags and LastModified are what they were.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import pickle
import re
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import moto.moto_api
import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from moto import mock_aws
from moto.moto_api._internal.recorder.models import Recorder
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3StaticStorage, S3Storage

from fallback_storage import ReadOnlyStorageError, s3_guard

BUCKET = "production"
BACKEND = f"S3Storage(bucket_name={BUCKET!r})"
FIX = (
    f"{BACKEND} is wrapped in ReadOnlyStorage, "
    f"use the backend directly without ReadOnlyStorage to write to it."
)
SEED = {
    "a.txt": b"production a",
    "docs/b.txt": b"production b",
    "docs/deep/c.txt": b"production c",
}
BIG = 9 * 1024 * 1024  # over boto3's 8 MiB multipart threshold
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REQUEST_LINE = re.compile(r"\"([A-Z]+) (\S+) HTTP/")

Snapshot = dict[str, tuple[str, datetime]]


@dataclass
class Production:
    """A seeded bucket, a protected S3Storage on it, and what reached the bucket since."""

    storage: Any
    raw_client: Any  # an unprotected client, for seeding and snapshots only
    requests: Callable[[], list[tuple[str, str]]]
    before: Snapshot = field(default_factory=dict)

    def snapshot(self) -> Snapshot:
        listing = self.raw_client.list_objects_v2(Bucket=BUCKET)
        return {item["Key"]: (item["ETag"], item["LastModified"]) for item in listing["Contents"]}

    def assert_untouched(self) -> None:
        writes = [(method, url) for method, url in self.requests() if method not in {"GET", "HEAD"}]
        assert writes == []
        assert self.snapshot() == self.before


def make_storage(**options: Any) -> Any:
    return S3Storage(bucket_name=BUCKET, region_name="us-east-1", **options)


def seed(client: Any) -> None:
    client.create_bucket(Bucket=BUCKET)
    for key, body in SEED.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class AccessLog(logging.Handler):
    """Collects the request lines werkzeug logs for every HTTP request the moto server handles."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = REQUEST_LINE.search(ANSI.sub("", record.getMessage()))
        if match:
            self.lines.append((match[1], match[2]))


def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Production]:
    monkeypatch.setenv("MOTO_RECORDER_FILEPATH", str(tmp_path / "moto-recording.jsonl"))
    recorder = Recorder()
    # moto's stubber looks the recorder up on this module for every request.
    monkeypatch.setattr(moto.moto_api, "recorder", recorder)

    def recorded() -> list[tuple[str, str]]:
        entries = recorder.download_recording().splitlines()
        return [(entry["method"], entry["url"]) for entry in map(json.loads, entries)]

    with mock_aws():
        raw_client = boto3.client("s3", region_name="us-east-1")
        seed(raw_client)
        recorder.reset_recording()
        recorder.start_recording()
        yield Production(make_storage(), raw_client, recorded)
        recorder.stop_recording()


def over_http(endpoint: str) -> Iterator[Production]:
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset) as response:
        assert response.status == 200
    access_log = AccessLog()
    werkzeug_logger = logging.getLogger("werkzeug")
    werkzeug_logger.addHandler(access_log)
    old_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.INFO)
    try:
        raw_client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
        seed(raw_client)
        access_log.lines.clear()
        storage = make_storage(endpoint_url=endpoint, addressing_style="path")
        yield Production(storage, raw_client, lambda: list(access_log.lines))
    finally:
        werkzeug_logger.removeHandler(access_log)
        werkzeug_logger.setLevel(old_level)


@pytest.fixture(params=["mock_aws", "http"])
def unprotected(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Production]:
    if request.param == "mock_aws":
        yield from in_process(tmp_path, monkeypatch)
    else:
        yield from over_http(request.getfixturevalue("moto_server"))


@pytest.fixture
def production(unprotected: Production) -> Production:
    unprotected.before = unprotected.snapshot()
    s3_guard.protect(unprotected.storage)
    return unprotected


# -- the allowlist --------------------------------------------------------------------------


def test_read_only_operations_are_the_get_and_head_operations_of_the_s3_model() -> None:
    model = boto3.session.Session().client("s3", region_name="us-east-1").meta.service_model
    expected = {
        name
        for name in model.operation_names
        if model.operation_model(name).http["method"] in {"GET", "HEAD"}
    }
    operations = s3_guard.read_only_operations()
    assert operations == frozenset(expected | {"SelectObjectContent"})
    assert {"GetObject", "HeadObject", "ListObjectsV2", "ListObjects"} <= operations
    assert not operations & {"PutObject", "DeleteObject", "CopyObject", "RestoreObject"}
    assert s3_guard.read_only_operations() is operations


# -- is_s3_storage and protect's argument ---------------------------------------------------


def test_is_s3_storage() -> None:
    assert s3_guard.is_s3_storage(make_storage())
    assert s3_guard.is_s3_storage(S3StaticStorage(bucket_name=BUCKET))
    assert not s3_guard.is_s3_storage(FileSystemStorage())
    assert not s3_guard.is_s3_storage(object())


def test_is_s3_storage_never_imports_django_storages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "storages.backends.s3")
    # Importing it now would fail, as it does where boto3 is not installed.
    monkeypatch.setitem(sys.modules, "boto3", None)
    assert not s3_guard.is_s3_storage(FileSystemStorage())
    assert "storages.backends.s3" not in sys.modules


def test_protect_refuses_other_storages() -> None:
    storage = FileSystemStorage(location="/nowhere")
    with pytest.raises(TypeError) as caught:
        s3_guard.protect(storage)
    assert str(caught.value) == (
        f"protect() needs a django-storages S3Storage instance, got {storage!r}; "
        f"wrap other storages in ReadOnlyStorage only."
    )


# -- reads ----------------------------------------------------------------------------------


def test_reads_work(production: Production) -> None:
    storage = production.storage
    assert storage.exists("a.txt")
    assert not storage.exists("missing.txt")
    assert storage.size("docs/b.txt") == len(SEED["docs/b.txt"])
    with storage.open("docs/deep/c.txt", "rb") as file:
        assert file.read() == SEED["docs/deep/c.txt"]
    assert storage.listdir("docs") == (["deep"], ["b.txt"])
    assert storage.get_modified_time("a.txt") == production.before["a.txt"][1]
    assert storage.bucket.Object("a.txt").get()["Body"].read() == SEED["a.txt"]
    downloaded = io.BytesIO()
    storage.connection.meta.client.download_fileobj(BUCKET, "a.txt", downloaded)
    assert downloaded.getvalue() == SEED["a.txt"]
    assert [item.key for item in storage.bucket.objects.all()] == sorted(SEED)
    assert production.requests()  # the recording sees requests at all
    production.assert_untouched()


def test_get_urls_are_signed_and_work(production: Production) -> None:
    url = production.storage.url("a.txt")
    head_url = production.storage.connection.meta.client.generate_presigned_url(
        "head_object", Params={"Bucket": BUCKET, "Key": "a.txt"}
    )
    assert f"/{BUCKET}/a.txt?" in url or f"{BUCKET}.s3.amazonaws.com/a.txt?" in url
    assert "a.txt?" in head_url
    if production.storage.endpoint_url:  # over HTTP: fetch it for real
        with urllib.request.urlopen(url) as response:
            assert response.read() == SEED["a.txt"]
    production.assert_untouched()


def test_select_object_content_is_let_through(production: Production) -> None:
    client = production.storage.connection.meta.client
    # Whatever moto answers, the guard let the POST through to it.
    with contextlib.suppress(ClientError):
        response = client.select_object_content(
            Bucket=BUCKET,
            Key="a.txt",
            Expression="SELECT * FROM S3Object",
            ExpressionType="SQL",
            InputSerialization={"CSV": {}},
            OutputSerialization={"CSV": {}},
        )
        response["Payload"].close()
    selects = [url for method, url in production.requests() if "select" in url]
    assert len(selects) == 1
    assert ("POST", selects[0]) in production.requests()
    assert production.snapshot() == production.before


# -- writes ---------------------------------------------------------------------------------


def pickle_round_trip(storage: Any) -> Any:
    return pickle.loads(pickle.dumps(storage))


def open_write_close(storage: Any, name: str) -> None:
    file = storage.open(name, "wb")
    try:
        file.write(b"new bytes")
    finally:
        file.close()


def copy_source(key: str = "a.txt") -> dict[str, str]:
    return {"Bucket": BUCKET, "Key": key}


def upload_file(storage: Any, tmp_path: Path) -> None:
    path = tmp_path / "upload.txt"
    path.write_bytes(b"new bytes")
    storage.connection.meta.client.upload_file(str(path), BUCKET, "new.txt")


WRITES: dict[str, tuple[str, Callable[[Any, Path], object]]] = {
    "save": ("PutObject", lambda s, _: s.save("new.txt", ContentFile(b"x"))),
    "save over": ("PutObject", lambda s, _: s.save("a.txt", ContentFile(b"x"))),
    "save multipart": (
        "CreateMultipartUpload",
        lambda s, _: s.save("big", ContentFile(b"0" * BIG)),
    ),
    "delete": ("DeleteObject", lambda s, _: s.delete("a.txt")),
    "open wb, write, close": ("CreateMultipartUpload", lambda s, _: open_write_close(s, "n.txt")),
    "open w over, write, close": (
        "CreateMultipartUpload",
        lambda s, _: open_write_close(s, "a.txt"),
    ),
    "open wb, close": ("PutObject", lambda s, _: s.open("new.txt", "wb").close()),
    "Object.delete": ("DeleteObject", lambda s, _: s.bucket.Object("a.txt").delete()),
    "Object.put": ("PutObject", lambda s, _: s.bucket.Object("a.txt").put(Body=b"x")),
    "Object.copy_from": (
        "CopyObject",
        lambda s, _: s.bucket.Object("new.txt").copy_from(CopySource=copy_source()),
    ),
    "Object.upload_fileobj": (
        "PutObject",
        lambda s, _: s.bucket.Object("a.txt").upload_fileobj(io.BytesIO(b"x")),
    ),
    "Bucket.put_object": ("PutObject", lambda s, _: s.bucket.put_object(Key="a.txt", Body=b"x")),
    "Bucket.objects.delete": ("DeleteObjects", lambda s, _: s.bucket.objects.all().delete()),
    "Bucket.delete": ("DeleteBucket", lambda s, _: s.bucket.delete()),
    "client.put_object": (
        "PutObject",
        lambda s, _: s.connection.meta.client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"x"),
    ),
    "client.delete_objects": (
        "DeleteObjects",
        lambda s, _: s.connection.meta.client.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": "a.txt"}]}
        ),
    ),
    "client.copy_object": (
        "CopyObject",
        lambda s, _: s.connection.meta.client.copy_object(
            Bucket=BUCKET, Key="new.txt", CopySource=copy_source()
        ),
    ),
    "client.create_multipart_upload": (
        "CreateMultipartUpload",
        lambda s, _: s.connection.meta.client.create_multipart_upload(Bucket=BUCKET, Key="n"),
    ),
    "client.restore_object (POST)": (
        "RestoreObject",
        lambda s, _: s.connection.meta.client.restore_object(Bucket=BUCKET, Key="a.txt"),
    ),
    "client.put_bucket_policy": (
        "PutBucketPolicy",
        lambda s, _: s.connection.meta.client.put_bucket_policy(Bucket=BUCKET, Policy="{}"),
    ),
    "client.upload_fileobj": (
        "PutObject",
        lambda s, _: s.connection.meta.client.upload_fileobj(io.BytesIO(b"x"), BUCKET, "n"),
    ),
    "client.upload_fileobj multipart": (
        "CreateMultipartUpload",
        lambda s, _: s.connection.meta.client.upload_fileobj(io.BytesIO(b"0" * BIG), BUCKET, "n"),
    ),
    "client.upload_file": ("PutObject", upload_file),
    "client.copy (managed)": (
        "CopyObject",
        lambda s, _: s.connection.meta.client.copy(copy_source(), BUCKET, "new.txt"),
    ),
    "unsigned client.put_object": (
        "PutObject",
        lambda s, _: s.unsigned_connection.meta.client.put_object(
            Bucket=BUCKET, Key="a.txt", Body=b"x"
        ),
    ),
    "unsigned Object.delete": (
        "DeleteObject",
        lambda s, _: s.unsigned_connection.Object(BUCKET, "a.txt").delete(),
    ),
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_writes_are_refused(production: Production, write: str, tmp_path: Path) -> None:
    operation, action = WRITES[write]
    with pytest.raises(ReadOnlyStorageError) as caught:
        action(production.storage, tmp_path)
    assert caught.value.operation == operation
    assert caught.value.backend == BACKEND
    assert str(caught.value).startswith(f"S3 operation {operation!r} on 's3://production")
    assert str(caught.value).endswith(f" was refused; {FIX}")
    production.assert_untouched()


def test_refusal_message(production: Production) -> None:
    with pytest.raises(ReadOnlyStorageError) as caught:
        production.storage.delete("docs/b.txt")
    assert str(caught.value) == (
        f"S3 operation 'DeleteObject' on 's3://production/docs/b.txt' was refused; {FIX}"
    )
    assert isinstance(caught.value, PermissionError)
    assert caught.value.name == "docs/b.txt"
    production.assert_untouched()


def test_backend_description_is_configurable(unprotected: Production) -> None:
    s3_guard.protect(unprotected.storage, backend="the production bucket")
    with pytest.raises(ReadOnlyStorageError) as caught:
        unprotected.storage.bucket.put_object(Key="x", Body=b"x")
    assert caught.value.backend == "the production bucket"
    assert str(caught.value).endswith(
        "; the production bucket is wrapped in ReadOnlyStorage, "
        "use the backend directly without ReadOnlyStorage to write to it."
    )


# -- presigned URLs and POST forms ----------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST", "put"])
@pytest.mark.parametrize("querystring_auth", [True, False], ids=["signed", "unsigned"])
def test_write_urls_are_refused(
    production: Production, method: str, querystring_auth: bool
) -> None:
    production.storage.querystring_auth = querystring_auth
    with pytest.raises(ReadOnlyStorageError) as caught:
        production.storage.url("a.txt", http_method=method)
    assert str(caught.value) == (
        f"Presigned {method.upper()} URL for S3 operation 'GetObject' "
        f"on 's3://production/a.txt' was refused; {FIX}"
    )
    assert caught.value.operation == "GetObject"


@pytest.mark.parametrize("client_method", ["put_object", "delete_object", "upload_part"])
def test_presigning_write_operations_is_refused(production: Production, client_method: str) -> None:
    client = production.storage.connection.meta.client
    params = {"Bucket": BUCKET, "Key": "a.txt", "UploadId": "u", "PartNumber": 1}
    if client_method != "upload_part":
        params = {"Bucket": BUCKET, "Key": "a.txt"}
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.generate_presigned_url(client_method, Params=params)
    operation = client.meta.method_to_api_mapping[client_method]
    assert str(caught.value) == (
        f"Presigning S3 operation {operation!r} on 's3://production/a.txt' was refused; {FIX}"
    )


@pytest.mark.parametrize("connection", ["connection", "unsigned_connection"])
def test_presigned_post_is_refused(production: Production, connection: str) -> None:
    client = getattr(production.storage, connection).meta.client
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.generate_presigned_post(BUCKET, "uploads/${filename}")
    assert str(caught.value) == (
        "Presigned POST for S3 operation 'PutObject' "
        f"on 's3://production/uploads/${{filename}}' was refused; {FIX}"
    )


# -- the HTTP request is checked last, before moto can answer it ----------------------------


def test_http_request_is_checked_even_when_earlier_checks_let_a_write_through(
    production: Production, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = production.storage.connection.meta.client
    # Switch off the operation and signing checks to reach the last line alone.
    client.meta.events.unregister(
        "before-parameter-build.s3", unique_id="fallback_storage.s3_guard.operation"
    )
    client.meta.events.unregister("before-sign.s3", unique_id="fallback_storage.s3_guard.sign")
    allowed = s3_guard.read_only_operations() | {"PutObject"}
    monkeypatch.setattr(s3_guard, "read_only_operations", lambda: allowed)
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"overwritten")
    assert str(caught.value) == "HTTP PUT request for S3 operation 'PutObject' was refused; " + FIX
    production.assert_untouched()


# -- every connection the storage has or makes ----------------------------------------------


def test_connections_made_in_other_threads_are_guarded(production: Production) -> None:
    errors: list[BaseException] = []
    clients: list[object] = []

    def write_from_thread() -> None:
        clients.append(production.storage.connection.meta.client)
        try:
            production.storage.connection.meta.client.delete_object(Bucket=BUCKET, Key="a.txt")
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    thread = threading.Thread(target=write_from_thread)
    thread.start()
    thread.join()
    assert clients[0] is not production.storage.connection.meta.client
    assert len(errors) == 1
    assert isinstance(errors[0], ReadOnlyStorageError)
    assert errors[0].operation == "DeleteObject"
    production.assert_untouched()


def test_connections_made_before_protect_are_guarded(unprotected: Production) -> None:
    storage = unprotected.storage
    unprotected.before = unprotected.snapshot()
    client, bucket = storage.connection.meta.client, storage.bucket
    unsigned_client = storage.unsigned_connection.meta.client
    thread_is_connected, protected = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def connect_before_and_write_after() -> None:
        storage.connection  # noqa: B018 - made before protect()
        thread_is_connected.set()
        protected.wait()
        try:
            storage.connection.meta.client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"x")
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    thread = threading.Thread(target=connect_before_and_write_after)
    thread.start()
    thread_is_connected.wait()
    s3_guard.protect(storage)
    protected.set()
    thread.join()

    refused = [error.operation for error in errors if isinstance(error, ReadOnlyStorageError)]
    assert refused == ["PutObject"]
    with pytest.raises(ReadOnlyStorageError, match="'PutObject'"):
        client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"x")
    with pytest.raises(ReadOnlyStorageError, match="'PutObject'"):
        client.upload_fileobj(io.BytesIO(b"x"), BUCKET, "a.txt")
    with pytest.raises(ReadOnlyStorageError, match="'PutObject'"):
        client.generate_presigned_post(BUCKET, "a.txt")
    with pytest.raises(ReadOnlyStorageError, match="'DeleteObject'"):
        bucket.Object("a.txt").delete()
    with pytest.raises(ReadOnlyStorageError, match="'DeleteObject'"):
        unsigned_client.delete_object(Bucket=BUCKET, Key="a.txt")
    assert storage.connection.meta.client is not client
    assert storage.bucket is not bucket
    assert client.head_object(Bucket=BUCKET, Key="a.txt")["ContentLength"] == len(SEED["a.txt"])
    unprotected.assert_untouched()


def test_protect_is_idempotent(production: Production) -> None:
    client = production.storage.connection.meta.client
    s3_guard.protect(production.storage, backend="another description")
    assert production.storage.connection.meta.client is client
    with pytest.raises(ReadOnlyStorageError) as caught:
        production.storage.delete("a.txt")
    assert caught.value.backend == BACKEND
    assert production.storage.exists("a.txt")
    production.assert_untouched()


@pytest.mark.parametrize("clone", [pickle_round_trip, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_copies_of_a_protected_storage_stay_protected(
    production: Production, clone: Callable[[Any], Any]
) -> None:
    production.storage.connection  # noqa: B018 - S3Storage drops connections from its state
    copied = clone(production.storage)
    with pytest.raises(ReadOnlyStorageError, match="'PutObject'"):
        copied.bucket.put_object(Key="a.txt", Body=b"x")
    assert copied.exists("a.txt")
    production.assert_untouched()


def test_managed_transfers_never_use_the_crt_client(
    production: Production, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CRT transfer manager sends requests itself, past botocore's event handlers.
    import boto3.s3.inject
    import boto3.s3.transfer

    preferred: list[str] = []
    real_create_transfer_manager = boto3.s3.transfer.create_transfer_manager

    def create_transfer_manager(client: Any, config: Any, osutil: Any = None) -> Any:
        preferred.append(config.preferred_transfer_client)
        return real_create_transfer_manager(client, config, osutil)

    monkeypatch.setattr(boto3.s3.inject, "create_transfer_manager", create_transfer_manager)
    crt: Any = boto3.s3.transfer.TransferConfig(preferred_transfer_client="crt")
    client = production.storage.connection.meta.client
    downloaded = io.BytesIO()
    client.download_fileobj(BUCKET, "a.txt", downloaded, Config=crt)
    assert downloaded.getvalue() == SEED["a.txt"]
    with pytest.raises(ReadOnlyStorageError):
        client.upload_fileobj(io.BytesIO(b"x"), BUCKET, "a.txt", None, None, crt)
    with pytest.raises(ReadOnlyStorageError):
        production.storage.bucket.Object("a.txt").upload_fileobj(io.BytesIO(b"x"), Config=crt)
    assert preferred == ["classic", "classic", "classic"]
    assert crt.preferred_transfer_client == "crt"  # the caller's config is left alone
    production.assert_untouched()


# -- the recordings notice writes (so that their silence above means something) ------------


def test_recording_sees_writes_that_reach_the_bucket(unprotected: Production) -> None:
    unprotected.before = unprotected.snapshot()
    unprotected.storage.save("a.txt", ContentFile(b"overwritten"))
    unprotected.storage.delete("docs/b.txt")
    methods = [method for method, _ in unprotected.requests()]
    assert "PUT" in methods
    assert "DELETE" in methods
    with pytest.raises(AssertionError):
        unprotected.assert_untouched()
