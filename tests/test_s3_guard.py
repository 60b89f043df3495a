"""The S3 guard: a protected S3Storage never writes to its bucket, whatever path a write takes.

Every test seeds a "production" bucket, protects an S3Storage on it and records, independently
of the guard, every request that reached moto: moto's own request recorder for the in-process
``mock_aws`` runs, and the access log of a ``ThreadedMotoServer`` on 127.0.0.1 for the runs over
real HTTP. ``Production.assert_untouched()`` then checks that only GET and HEAD reached the bucket
and that its state (keys, ETags, LastModified, tags, ACLs, multipart uploads, bucket ACL, tags
and policy), read with a separate unprotected client, is what it was. That machinery lives in
``production.py``; its fixtures are imported here, where other modules also find them.

Protection lives with the bucket for the rest of the process: a test that needs a bucket no
earlier test protected takes ``fresh``. The hooks themselves, one by one, and the endpoint
identity are proved in ``test_s3_hooks.py``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import pickle
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import production as shared
import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from production import BACKEND, BIG, BUCKET, SEED, make_storage
from production import Production as Production  # re-exported: other test modules use it
from storages.backends.s3 import S3StaticStorage

from fallback_storage import ReadOnlyStorage, ReadOnlyStorageError, s3_guard

# The fixtures of production.py, used here; other test modules import them from here too.
moto_server = shared.moto_server
unprotected = shared.unprotected
production = shared.production
fresh = shared.fresh


def fix(backend: str) -> str:
    """How a refusal of the S3 guard ends: the protecting backend and the way out."""
    return (
        f"{backend} is wrapped in ReadOnlyStorage, which keeps its bucket read-only in this "
        f"whole process, so write to a writable layer or to another bucket."
    )


FIX = fix(BACKEND)


# -- the allowlist --------------------------------------------------------------------------


def test_read_only_operations_are_the_get_and_head_operations_of_the_s3_model() -> None:
    model = boto3.session.Session().client("s3", region_name="us-east-1").meta.service_model
    expected = {
        name
        for name in model.operation_names
        if model.operation_model(name).http["method"] in {"GET", "HEAD"}
    }
    operations = s3_guard.read_only_operations()
    # CreateSession is a GET that mints read-write credentials for a directory bucket.
    assert "CreateSession" in expected
    assert operations == frozenset((expected | {"SelectObjectContent"}) - {"CreateSession"})
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


def unique(prefix: str) -> str:
    """A bucket name no other test uses: its protection lasts as long as the process."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_is_protected() -> None:
    bucket = unique("is-protected")
    storage = make_storage(bucket_name=bucket)
    assert not s3_guard.is_protected(storage)
    s3_guard.protect(storage)
    assert s3_guard.is_protected(storage)
    assert s3_guard.is_protected(pickle.loads(pickle.dumps(storage)))
    # The bucket is protected, not the object: another storage on it is protected too.
    assert s3_guard.is_protected(make_storage(bucket_name=bucket))
    assert not s3_guard.is_protected(make_storage(bucket_name=unique("other")))
    wrapped = make_storage(bucket_name=unique("wrapped"))
    assert s3_guard.is_protected(ReadOnlyStorage(wrapped).backend)
    assert not s3_guard.is_protected(FileSystemStorage())
    assert not s3_guard.is_protected(object())


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


POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
    '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]}'
)


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
        lambda s, _: s.connection.meta.client.put_bucket_policy(Bucket=BUCKET, Policy=POLICY),
    ),
    "client.put_object_tagging": (
        "PutObjectTagging",
        lambda s, _: s.connection.meta.client.put_object_tagging(
            Bucket=BUCKET, Key="a.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        ),
    ),
    "client.put_object_acl": (
        "PutObjectAcl",
        lambda s, _: s.connection.meta.client.put_object_acl(
            Bucket=BUCKET, Key="a.txt", ACL="public-read"
        ),
    ),
    "client.put_bucket_tagging": (
        "PutBucketTagging",
        lambda s, _: s.connection.meta.client.put_bucket_tagging(
            Bucket=BUCKET, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        ),
    ),
    "Object.Acl().put": (
        "PutObjectAcl",
        lambda s, _: s.bucket.Object("a.txt").Acl().put(ACL="public-read"),
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


def test_backend_description_is_configurable(fresh: Production) -> None:
    s3_guard.protect(fresh.storage, backend="the production bucket")
    with pytest.raises(ReadOnlyStorageError) as caught:
        fresh.storage.bucket.put_object(Key="x", Body=b"x")
    assert caught.value.backend == "the production bucket"
    assert caught.value.bucket == fresh.bucket
    assert str(caught.value).endswith(f"; {fix('the production bucket')}")


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


def test_connections_made_before_protect_are_guarded(fresh: Production) -> None:
    storage, bucket_name = fresh.storage, fresh.bucket
    fresh.before = fresh.snapshot()
    client, bucket = storage.connection.meta.client, storage.bucket
    unsigned_client = storage.unsigned_connection.meta.client
    thread_is_connected, protected = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def connect_before_and_write_after() -> None:
        storage.connection  # noqa: B018 - made before protect()
        thread_is_connected.set()
        protected.wait()
        try:
            storage.connection.meta.client.put_object(Bucket=bucket_name, Key="a.txt", Body=b"x")
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
        client.put_object(Bucket=bucket_name, Key="a.txt", Body=b"x")
    with pytest.raises(ReadOnlyStorageError, match="'PutObject'"):
        client.upload_fileobj(io.BytesIO(b"x"), bucket_name, "a.txt")
    with pytest.raises(ReadOnlyStorageError, match="'PutObject'"):
        client.generate_presigned_post(bucket_name, "a.txt")
    with pytest.raises(ReadOnlyStorageError, match="'DeleteObject'"):
        bucket.Object("a.txt").delete()
    with pytest.raises(ReadOnlyStorageError, match="'DeleteObject'"):
        unsigned_client.delete_object(Bucket=bucket_name, Key="a.txt")
    # The very clients made before are guarded in place (the guard is on botocore's classes).
    assert storage.connection.meta.client is client
    assert storage.bucket is bucket
    assert client.head_object(Bucket=bucket_name, Key="a.txt")["ContentLength"] == len(
        SEED["a.txt"]
    )
    fresh.assert_untouched()


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


# -- the recordings notice writes (so that their silence above means something) ------------


def test_recording_sees_writes_that_reach_the_bucket(fresh: Production) -> None:
    fresh.before = fresh.snapshot()
    fresh.storage.save("a.txt", ContentFile(b"overwritten"))
    fresh.storage.delete("docs/b.txt")
    methods = [method for method, _ in fresh.requests()]
    assert "PUT" in methods
    assert "DELETE" in methods
    with pytest.raises(AssertionError):
        fresh.assert_untouched()


@pytest.mark.parametrize(
    "change",
    ["object tags", "object ACL", "bucket tags", "bucket policy", "multipart upload"],
)
def test_the_state_sees_changes_the_listing_does_not(fresh: Production, change: str) -> None:
    client, bucket = fresh.raw_client, fresh.bucket
    fresh.before = fresh.snapshot()
    if change == "object tags":
        client.put_object_tagging(
            Bucket=bucket, Key="a.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        )
    elif change == "object ACL":
        client.put_object_acl(Bucket=bucket, Key="a.txt", ACL="public-read")
    elif change == "bucket tags":
        client.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    elif change == "bucket policy":
        client.put_bucket_policy(Bucket=bucket, Policy=POLICY)
    else:
        client.create_multipart_upload(Bucket=bucket, Key="pending.bin")
    assert fresh.snapshot() == fresh.before  # the listing alone would not notice
    with pytest.raises(AssertionError):
        fresh.assert_untouched()
