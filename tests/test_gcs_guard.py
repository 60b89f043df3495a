"""The Google Cloud Storage guard: a protected bucket is never written, whatever the path.

Every test seeds a fresh bucket on gcp-storage-emulator (started by a fixture in its own
process on a loopback port), protects a django-storages ``GoogleCloudStorage`` on it by
wrapping it in ``ReadOnlyStorage`` (directly, through a lazy object, or inside a nested
``FallbackStorage``), attacks it through an object the SDK hands out, and then checks two
records that do not go through the guard: the emulator's access log must show only GET and
HEAD for the bucket, and the bucket read with a client built before the protection (names,
generations, metagenerations, ETags, sizes, MD5s, metadata, content types, bucket labels)
must be what it was.
"""

from __future__ import annotations

import dataclasses
import io
import re
import threading
import urllib.request
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import emulators
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.utils.functional import SimpleLazyObject
from emulators import Emulator
from google.api_core.iam import Policy
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs
from google.cloud.storage import _signing, transfer_manager
from google.oauth2 import service_account
from storages.backends.gcloud import GoogleCloudStorage

from fallback_storage import FallbackStorage, ReadOnlyStorage, ReadOnlyStorageError, gcs_guard

gcs_emulator = emulators.gcs_emulator

PROJECT = "test-project"
SEED = {"a.txt": b"production a", "docs/b.txt": b"production b"}
READ_METHODS = frozenset({"GET", "HEAD"})
WRAPPINGS = ("direct", "lazy", "nested")


def anonymous() -> Any:
    """Google's anonymous credentials (google-auth's constructor is untyped)."""
    return AnonymousCredentials()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def signer() -> service_account.Credentials:
    """Dummy service-account credentials that can sign locally (a key made for the test)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return service_account.Credentials.from_service_account_info(  # type: ignore[no-any-return,no-untyped-call]
        {
            "type": "service_account",
            "client_email": "signer@test-project.iam.gserviceaccount.com",
            "private_key": pem,
            "private_key_id": "test",
            "token_uri": "https://oauth2.googleapis.com/token",
            "project_id": PROJECT,
        }
    )


def client(endpoint: str | None = None) -> gcs.Client:
    options = {"api_endpoint": endpoint} if endpoint else None
    return gcs.Client(project=PROJECT, credentials=anonymous(), client_options=options)


@dataclasses.dataclass
class Production:
    """A seeded bucket, the GoogleCloudStorage on it, its wrapper and the emulator's record."""

    emulator: Emulator
    name: str
    raw: gcs.Client  # built before the protection, for reading the state only
    storage: GoogleCloudStorage
    wrapper: Any
    signer: service_account.Credentials
    mark: int = 0
    before: Any = None

    @property
    def bucket(self) -> Any:
        return self.storage.bucket

    def state(self) -> Any:
        bucket = self.raw.get_bucket(self.name)
        blobs = {
            blob.name: (
                blob.generation,
                blob.metageneration,
                blob.etag,
                blob.size,
                blob.md5_hash,
                blob.metadata,
                blob.content_type,
            )
            for blob in self.raw.list_blobs(self.name)
        }
        return blobs, bucket.labels, bucket.metageneration, bucket.etag

    def writes(self) -> list[tuple[str, str]]:
        """The requests the emulator logged for the bucket (or as batches) that are not reads."""
        marks = (f"/b/{self.name}/", f"/b/{self.name}?", f"/{self.name}/", "/batch/")
        found = []
        for method, path in self.emulator.requests(self.mark):
            # A copy or rewrite writes its destination only.
            written = re.split(r"/(?:copyTo|rewriteTo)(?=/b/)", path)[-1]
            if method not in READ_METHODS and (
                any(mark in written for mark in marks) or written.endswith(f"/b/{self.name}")
            ):
                found.append((method, path))
        return found

    def assert_untouched(self) -> None:
        assert self.writes() == []
        assert self.state() == self.before


def wrap(storage: GoogleCloudStorage, how: str, local: Path) -> Any:
    if how == "direct":
        wrapper: Any = ReadOnlyStorage(backend=storage)
    elif how == "lazy":
        wrapper = ReadOnlyStorage(backend=cast(Any, SimpleLazyObject(lambda: storage)))
    else:
        inner = ReadOnlyStorage(backend=FallbackStorage(backends=[storage]))
        wrapper = FallbackStorage(backends=[FileSystemStorage(location=str(local)), inner])
    assert wrapper.exists("a.txt")
    return wrapper


def make_production(
    emulator: Emulator, how: str, local: Path, signer: service_account.Credentials
) -> Production:
    name = f"prod-{uuid.uuid4().hex[:12]}"
    raw = client()
    bucket = raw.create_bucket(name)
    bucket.labels = {"owner": "production"}
    bucket.patch()
    for key, body in SEED.items():
        blob = bucket.blob(key)
        blob.metadata = {"seeded": "yes"}
        blob.upload_from_string(body, content_type="text/plain")
    storage = GoogleCloudStorage(bucket_name=name, project_id=PROJECT, credentials=anonymous())
    production = Production(emulator, name, raw, storage, None, signer)
    production.before = production.state()
    production.mark = emulator.mark()
    production.wrapper = wrap(storage, how, local)
    return production


@pytest.fixture
def emulator_host(gcs_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    return gcs_emulator


@pytest.fixture(params=WRAPPINGS)
def production(
    emulator_host: Emulator,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    signer: service_account.Credentials,
) -> Production:
    return make_production(emulator_host, request.param, tmp_path, signer)


@pytest.fixture
def direct(
    emulator_host: Emulator, tmp_path: Path, signer: service_account.Credentials
) -> Production:
    return make_production(emulator_host, "direct", tmp_path, signer)


def refusal_text(production: Production) -> str:
    return (
        f"is wrapped in ReadOnlyStorage, which makes bucket {production.name!r} read-only in "
        f"this process, so send the write to another bucket."
    )


# -- attacks, each through another object the SDK hands out -----------------------------------


def empty_policy() -> Any:
    return Policy()  # type: ignore[no-untyped-call]


def _blob(p: Production, name: str = "a.txt") -> Any:
    return p.bucket.blob(name)


def _resumable(p: Production) -> None:
    blob = p.bucket.blob("big.bin", chunk_size=256 * 1024)
    blob.upload_from_file(io.BytesIO(b"x" * (600 * 1024)))


def _writer(p: Production) -> None:
    writer = p.bucket.blob("written.txt").open("wb", chunk_size=256 * 1024)
    try:
        writer.write(b"x" * (300 * 1024))  # over one chunk: the resumable upload starts here
    finally:
        # Drop what close() would try to upload again, so the garbage collector does not try
        # (and get refused) whenever it finalises the writer, in another test.
        writer._buffer.close()


def _batch_delete(p: Production) -> None:
    with p.storage.client.batch():
        p.bucket.delete_blob("a.txt")


def _batch_patch(p: Production) -> None:
    with p.storage.client.batch():
        blob = p.bucket.blob("a.txt")
        blob.metadata = {"evil": "1"}
        blob.patch()


def _patch(p: Production) -> None:
    blob = p.bucket.get_blob("a.txt")
    blob.metadata = {"evil": "1"}
    blob.patch()


def _labels(p: Production) -> None:
    bucket = p.storage.client.get_bucket(p.name)
    bucket.labels = {"evil": "1"}
    bucket.patch()


def _object_acl(p: Production) -> None:
    blob = p.bucket.blob("a.txt")
    blob.acl.loaded = True
    blob.acl.all().grant_read()
    blob.acl.save()


def _in_thread(p: Production) -> None:
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            client().bucket(p.name).blob("thread.txt").upload_from_string(b"x")
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=upload)
    thread.start()
    thread.join()
    raise errors[0]


def _transfer_many(p: Production) -> None:
    transfer_manager.upload_many(
        [(io.BytesIO(b"x"), p.bucket.blob("many.txt"))], worker_type="thread", raise_exception=True
    )


def _transfer_chunks(p: Production, tmp_path: Path) -> None:
    path = tmp_path / "chunks.bin"
    path.write_bytes(b"x" * (6 * 1024 * 1024))
    transfer_manager.upload_chunks_concurrently(
        str(path), p.bucket.blob("chunks.bin"), chunk_size=5 * 1024 * 1024, worker_type="thread"
    )


def _bare_open(p: Production) -> None:
    handle = p.storage.open("a.txt", "wb")
    handle.write(b"overwritten")
    try:
        handle.close()
    finally:
        handle.file.close()  # django-storages leaves its spool file open when the upload fails


def _override(p: Production) -> None:
    p.storage.client._connection.api_request(
        "GET", f"/b/{p.name}/o/a.txt", headers={"X-HTTP-Method-Override": "DELETE"}
    )


ATTACKS: dict[str, Callable[[Production], Any]] = {
    "upload through the bucket": lambda p: _blob(p, "new.txt").upload_from_string(b"x"),
    "overwrite": lambda p: _blob(p).upload_from_string(b"x"),
    "resumable upload in chunks": _resumable,
    "resumable upload session": lambda p: _blob(p, "new.txt").create_resumable_upload_session(),
    "blob writer": _writer,
    "delete a blob": lambda p: _blob(p).delete(),
    "delete through the bucket": lambda p: p.bucket.delete_blobs(["a.txt", "docs/b.txt"]),
    "batch delete": _batch_delete,
    "batch patch": _batch_patch,
    "copy into the bucket": lambda p: p.bucket.copy_blob(_blob(p), p.bucket, "copy.txt"),
    "rewrite into the bucket": lambda p: _blob(p, "copy.txt").rewrite(_blob(p)),
    "compose": lambda p: _blob(p, "composed").compose([_blob(p), _blob(p, "docs/b.txt")]),
    "rename": lambda p: p.bucket.rename_blob(_blob(p), "moved.txt"),
    "patch metadata": _patch,
    "update (PUT) a blob": lambda p: p.bucket.get_blob("a.txt").update(),
    "make a blob public": lambda p: _blob(p).make_public(),
    "object ACL": _object_acl,
    "bucket labels": _labels,
    "make the bucket public": lambda p: p.storage.client.get_bucket(p.name).make_public(),
    "bucket IAM policy": lambda p: p.bucket.set_iam_policy(empty_policy()),
    "delete the bucket": lambda p: p.storage.client.get_bucket(p.name).delete(force=True),
    "notification": lambda p: p.bucket.notification(topic_name="evil").create(),
    "transfer manager in threads": _transfer_many,
    "new client": lambda p: client().bucket(p.name).blob("a.txt").delete(),
    "localhost instead of 127.0.0.1": lambda p: (
        client(f"http://localhost:{p.emulator.port}").bucket(p.name).blob("a.txt").delete()
    ),
    "client built before the protection": lambda p: p.raw.bucket(p.name).blob("a.txt").delete(),
    "client in another thread": _in_thread,
    "method override header": _override,
    "the client's own transport": lambda p: p.storage.client._http.request(
        "DELETE", f"{p.emulator.url}/storage/v1/b/{p.name}/o/a.txt"
    ),
    "bare backend save": lambda p: p.storage.save("new.txt", ContentFile(b"x")),
    "bare backend delete": lambda p: p.storage.delete("a.txt"),
    "bare backend open for writing": _bare_open,
}


def _signed(p: Production, method: str, **options: Any) -> str:
    return str(
        _blob(p).generate_signed_url(
            expiration=timedelta(minutes=5),
            method=method,
            credentials=p.signer,
            version=options.pop("version", "v4"),
            **options,
        )
    )


SIGNING: dict[str, Callable[[Production], Any]] = {
    "PUT URL": lambda p: _signed(p, "PUT"),
    "POST URL": lambda p: _signed(p, "POST"),
    "DELETE URL": lambda p: _signed(p, "delete"),
    "RESUMABLE URL": lambda p: _signed(p, "RESUMABLE"),
    "v2 PUT URL": lambda p: _signed(p, "PUT", version="v2"),
    "virtual-hosted PUT URL": lambda p: _signed(p, "PUT", virtual_hosted_style=True),
    "bucket-bound PUT URL": lambda p: _signed(p, "PUT", bucket_bound_hostname="media.example"),
    "bucket DELETE URL": lambda p: p.bucket.generate_signed_url(
        expiration=timedelta(minutes=5), method="DELETE", credentials=p.signer, version="v4"
    ),
    "upload policy": lambda p: p.bucket.generate_upload_policy([["starts-with", "$key", ""]]),
    "POST policy": lambda p: p.storage.client.generate_signed_post_policy_v4(
        p.name, "new.txt", expiration=timedelta(minutes=5), credentials=p.signer
    ),
    "the signing helper itself": lambda p: _signing.generate_signed_url_v4(
        p.signer, resource=f"/{p.name}/a.txt", expiration=timedelta(minutes=5), method="PUT"
    ),
    "the signing helper with a bucket-bound host": lambda p: _signing.generate_signed_url_v4(
        p.signer,
        resource="/a.txt",
        expiration=timedelta(minutes=5),
        api_access_endpoint="https://media.example",
        method="PUT",
    ),
    "the signing helper with a virtual-hosted endpoint": lambda p: _signing.generate_signed_url_v4(
        p.signer,
        resource="/a.txt",
        expiration=timedelta(minutes=5),
        api_access_endpoint=f"https://{p.name}.storage.googleapis.com",
        method="PUT",
    ),
    "bare backend url(http_method='PUT')": lambda p: p.storage.url(
        "a.txt", parameters={"method": "PUT", "credentials": p.signer}
    ),
    "wrapper url(parameters={'method': 'DELETE'})": lambda p: p.wrapper.url(
        "a.txt", parameters={"method": "DELETE", "credentials": p.signer}
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_writes_are_refused(production: Production, attack: str) -> None:
    with pytest.raises(ReadOnlyStorageError) as refused:
        ATTACKS[attack](production)
    message = str(refused.value)
    assert refusal_text(production) in message
    assert "without ReadOnlyStorage" not in message
    production.assert_untouched()


def test_xml_multipart_uploads_are_refused(direct: Production, tmp_path: Path) -> None:
    with pytest.raises(ReadOnlyStorageError, match=r"'XML API POST \(multipart upload\)'"):
        _transfer_chunks(direct, tmp_path)
    direct.assert_untouched()


@pytest.mark.parametrize("attack", list(SIGNING))
def test_write_signatures_are_refused(direct: Production, attack: str) -> None:
    # Through the wrapper its storage API refuses first (the write-URL rule); else the SDK guard.
    through_wrapper = attack.startswith("wrapper")
    expected = "^ReadOnlyStorage refused to sign " if through_wrapper else "^Signing "
    with pytest.raises(ReadOnlyStorageError, match=expected) as refused:
        SIGNING[attack](direct)
    message = str(refused.value)
    if through_wrapper:
        assert repr(direct.name) in message
        direct.assert_untouched()
        return
    if "bucket-bound host" in attack:
        # The bucket cannot be told from a bucket-bound host name: refused for every bucket.
        assert "read-only in this process, so send the write to another bucket." in message
    else:
        assert refusal_text(direct) in message
    direct.assert_untouched()


def test_refusal_names_project_bucket_blob_and_operation(direct: Production) -> None:
    with pytest.raises(ReadOnlyStorageError) as refused:
        _patch(direct)
    backend = f"GoogleCloudStorage(project_id={PROJECT!r}, bucket_name={direct.name!r})"
    assert str(refused.value) == (
        f"Google Cloud Storage request 'objects.patch' (PATCH) on "
        f"'gs://{direct.name}/a.txt' was refused; {backend} {refusal_text(direct)}"
    )
    assert refused.value.operation == "objects.patch"
    assert refused.value.name == "a.txt"
    assert refused.value.backend == backend


def test_reads_work(production: Production) -> None:
    wrapper = production.wrapper
    with wrapper.open("a.txt") as handle:
        assert handle.read() == b"production a"
    assert wrapper.size("docs/b.txt") == len(SEED["docs/b.txt"])
    assert wrapper.listdir("docs")[1] == ["b.txt"]
    assert wrapper.get_modified_time("a.txt").tzinfo is not None
    bucket = production.bucket
    assert bucket.blob("docs/b.txt").download_as_bytes() == b"production b"
    assert bucket.get_blob("a.txt").metadata == {"seeded": "yes"}
    assert sorted(blob.name for blob in bucket.list_blobs()) == sorted(SEED)
    with bucket.blob("a.txt").open("rb") as reader:
        assert reader.read() == b"production a"
    assert production.storage.client.get_bucket(production.name).labels == {"owner": "production"}
    production.assert_untouched()


def test_read_only_signed_urls_are_signed_and_work(direct: Production) -> None:
    url = _signed(direct, "GET", api_access_endpoint=direct.emulator.url)
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"production a"
    assert "X-Goog-Signature=" in _signed(direct, "HEAD")  # the emulator answers no HEAD
    assert direct.storage.url("a.txt", parameters={"credentials": direct.signer})
    direct.assert_untouched()


def test_copy_out_of_the_protected_bucket_is_a_read(direct: Production) -> None:
    scratch = client().create_bucket(f"scratch-{uuid.uuid4().hex[:12]}")
    direct.bucket.copy_blob(_blob(direct), scratch, "copy.txt")
    assert scratch.blob("copy.txt").download_as_bytes() == b"production a"
    direct.assert_untouched()


def test_other_buckets_stay_writable(direct: Production) -> None:
    other = client().create_bucket(f"{direct.name}-dev")
    other.blob("new.txt").upload_from_string(b"dev")
    other.blob("new.txt").delete()
    assert _signed(direct, "GET")
    direct.assert_untouched()


def test_the_same_bucket_name_on_another_endpoint_stays_writable(
    direct: Production, tmp_path: Path
) -> None:
    for second in emulators.start_gcs_emulator(tmp_path):
        bucket = client(second.url).create_bucket(direct.name)
        bucket.blob("a.txt").upload_from_string(b"another endpoint")
        bucket.labels = {"changed": "yes"}
        bucket.patch()
        assert bucket.blob("a.txt").download_as_bytes() == b"another endpoint"
        bucket.blob("a.txt").delete()
    direct.assert_untouched()


def test_is_protected_and_describe(emulator_host: Emulator) -> None:
    name = f"prod-{uuid.uuid4().hex[:12]}"
    storage = GoogleCloudStorage(bucket_name=name, project_id=PROJECT)
    assert gcs_guard.handles(storage)
    assert not gcs_guard.handles(FileSystemStorage())
    assert not gcs_guard.is_protected(storage)
    assert not gcs_guard.is_protected(FileSystemStorage())
    assert gcs_guard.describe(storage) == (
        f"GoogleCloudStorage(project_id={PROJECT!r}, bucket_name={name!r})"
    )
    ReadOnlyStorage(backend=storage).backend  # noqa: B018 - building it protects the bucket
    # Protecting built no client: that could have looked for credentials.
    assert storage._client is None
    assert gcs_guard.is_protected(storage)
    assert gcs_guard.is_protected(GoogleCloudStorage(bucket_name=name, project_id="other"))


def test_protect_refuses_other_storages() -> None:
    with pytest.raises(TypeError, match="needs a django-storages GoogleCloudStorage instance"):
        gcs_guard.protect(FileSystemStorage())


def test_the_records_see_writes_that_reach_a_bucket(emulator_host: Emulator) -> None:
    # The same records on a bucket nothing protects: their silence above means something.
    name = f"dev-{uuid.uuid4().hex[:12]}"
    raw = client()
    raw.create_bucket(name).blob("a.txt").upload_from_string(b"dev")
    production = Production(emulator_host, name, raw, GoogleCloudStorage(), None, None)  # type: ignore[arg-type]
    production.before = production.state()
    production.mark = emulator_host.mark()
    raw.bucket(name).blob("a.txt").upload_from_string(b"changed")
    assert [method for method, _ in production.writes()] == ["POST"]
    assert production.state() != production.before


def test_a_storage_whose_client_exists_is_protected_on_that_clients_endpoint(
    emulator_host: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"prod-{uuid.uuid4().hex[:12]}"
    client().create_bucket(name)
    storage = GoogleCloudStorage(bucket_name=name, project_id=PROJECT, credentials=anonymous())
    transport = storage.client._http  # built now, on the emulator
    # The endpoint comes from the client, not from the environment at protection time.
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    ReadOnlyStorage(backend=storage).backend  # noqa: B018
    with pytest.raises(ReadOnlyStorageError, match=f"'gs://{name}/x.txt' was refused"):
        storage.bucket.blob("x.txt").upload_from_string(b"x")
    # The guarded transport is the client's own, attributes and all.
    assert transport is storage.client._http
    assert transport.headers is storage.client._http_internal.headers
    transport.max_redirects = 3
    assert storage.client._http_internal.max_redirects == 3
    storage.client.close()


def test_a_batch_sent_by_hand_is_read_part_by_part(direct: Production) -> None:
    body = (
        f"--b\r\nContent-Type: application/http\r\n\r\n"
        f"DELETE /storage/v1/b/{direct.name}/o/a.txt HTTP/1.1\r\n\r\n--b--\r\n"
    )
    headers = {"Content-Type": 'multipart/mixed; boundary="b"'}
    transport = direct.storage.client._http
    url = f"{direct.emulator.url}/batch/storage/v1"
    sends: list[Callable[[], Any]] = [
        lambda: transport.request("POST", url, body, headers),
        lambda: transport.request(method="POST", url=url, data=body),
    ]
    for send in sends:
        with pytest.raises(ReadOnlyStorageError) as refused:
            send()
        assert (refused.value.operation, refused.value.name) == ("batch: objects.delete", "a.txt")
    direct.assert_untouched()
