"""The Azure guard: a protected AzureStorage's container is never written, whatever the path.

Every test seeds a fresh container on Azurite (started by a fixture on a loopback port),
protects a django-storages ``AzureStorage`` on it by wrapping it in ``ReadOnlyStorage``
(directly, through a lazy object, or inside a nested ``FallbackStorage``), attacks it through
an object the SDK hands out, and then checks two records that do not go through the guard:
Azurite's own request log must show only GET and HEAD for the container, and the container
read with a client built before the protection (names, ETags, sizes, metadata, content types,
snapshots, container metadata, access policy, leases) must be what it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import emulators
import pytest
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.storage.blob import (
    AccessPolicy,
    AccountSasPermissions,
    BlobLeaseClient,
    BlobServiceClient,
    ContainerSasPermissions,
    ContentSettings,
    ResourceTypes,
    generate_account_sas,
    generate_blob_sas,
    generate_container_sas,
)
from azure.storage.blob.aio import BlobServiceClient as AsyncBlobServiceClient
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.utils.functional import SimpleLazyObject
from emulators import AZURITE_ACCOUNT, AZURITE_KEY, OTHER_ACCOUNT, OTHER_KEY, Emulator
from storages.backends.azure_storage import AzureStorage

from fallback_storage import FallbackStorage, ReadOnlyStorage, ReadOnlyStorageError, azure_guard

azurite = emulators.azurite

SEED = {"a.txt": b"production a", "docs/b.txt": b"production b"}
READ_METHODS = frozenset({"GET", "HEAD"})
WRAPPINGS = ("direct", "lazy", "nested")


def connection_string(
    emulator: Emulator,
    host: str = "127.0.0.1",
    account: str = AZURITE_ACCOUNT,
    key: str = AZURITE_KEY,
) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint=http://{host}:{emulator.port}/{account};"
    )


def seed(service: BlobServiceClient, name: str) -> None:
    container = service.create_container(name, metadata={"owner": "production"})
    for blob, body in SEED.items():
        container.upload_blob(
            blob,
            body,
            metadata={"seeded": "yes"},
            content_settings=ContentSettings(content_type="text/plain"),
        )


@dataclasses.dataclass
class Production:
    """A seeded container, the AzureStorage on it, its wrapper and Azurite's record."""

    emulator: Emulator
    name: str
    raw: BlobServiceClient  # built before the protection, for reading the state only
    storage: AzureStorage
    wrapper: Any
    mark: int = 0
    before: Any = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.emulator)

    def state(self) -> Any:
        container = self.raw.get_container_client(self.name)
        blobs = {
            (blob.name, blob.snapshot): (
                blob.etag,
                blob.size,
                dict(blob.metadata or {}),
                blob.content_settings.content_type,
                blob.lease.state,
            )
            for blob in container.list_blobs(include=["metadata", "snapshots"])
        }
        properties = container.get_container_properties()
        policy = container.get_container_access_policy()
        identifiers = [
            (identifier.id, identifier.access_policy.permission)
            for identifier in policy["signed_identifiers"]
        ]
        return (
            blobs,
            properties.etag,
            dict(properties.metadata),
            properties.lease.state,
            policy["public_access"],
            identifiers,
        )

    def writes(self) -> list[tuple[str, str]]:
        """The requests Azurite logged for the container that are not GET or HEAD."""
        prefix = f"/{AZURITE_ACCOUNT}/{self.name}"
        return [
            (method, path)
            for method, path in self.emulator.requests(self.mark)
            if method not in READ_METHODS
            and (path == prefix or path.startswith((f"{prefix}/", f"{prefix}?")))
        ]

    def assert_untouched(self) -> None:
        assert self.writes() == []
        assert self.state() == self.before


def wrap(storage: AzureStorage, how: str, local: Path) -> Any:
    """``storage`` made read-only the way ``how`` says, and used once (which protects it)."""
    if how == "direct":
        wrapper: Any = ReadOnlyStorage(backend=storage)
    elif how == "lazy":
        wrapper = ReadOnlyStorage(backend=cast(Any, SimpleLazyObject(lambda: storage)))
    else:
        inner = ReadOnlyStorage(backend=FallbackStorage(backends=[storage]))
        wrapper = FallbackStorage(backends=[FileSystemStorage(location=str(local)), inner])
    assert wrapper.exists("a.txt")
    return wrapper


def make_production(emulator: Emulator, how: str, local: Path) -> Production:
    name = f"prod-{uuid.uuid4().hex[:12]}"
    raw = BlobServiceClient.from_connection_string(connection_string(emulator))
    seed(raw, name)
    storage = AzureStorage(
        connection_string=connection_string(emulator), azure_container=name, expiration_secs=300
    )
    production = Production(emulator, name, raw, storage, None)
    production.before = production.state()
    production.mark = emulator.mark()
    production.wrapper = wrap(storage, how, local)
    return production


@pytest.fixture(params=WRAPPINGS)
def production(azurite: Emulator, request: pytest.FixtureRequest, tmp_path: Path) -> Production:
    return make_production(azurite, request.param, tmp_path)


@pytest.fixture
def direct(azurite: Emulator, tmp_path: Path) -> Production:
    return make_production(azurite, "direct", tmp_path)


def refusal_text(production: Production) -> str:
    return (
        f"is wrapped in ReadOnlyStorage, which makes container {production.name!r} of Azure "
        f"account {AZURITE_ACCOUNT!r} read-only in this process, so send the write to another "
        f"container."
    )


def sas_expiry() -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=5)


# -- attacks, each through another object the SDK hands out -----------------------------------


def _blob(p: Production, name: str = "a.txt") -> Any:
    return p.storage.client.get_blob_client(name)


def _in_thread(p: Production) -> None:
    errors: list[BaseException] = []

    def upload() -> None:
        client = BlobServiceClient.from_connection_string(p.connection_string)
        try:
            client.get_blob_client(p.name, "thread.txt").upload_blob(b"x")
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=upload)
    thread.start()
    thread.join()
    raise errors[0]


def _async(p: Production) -> None:
    async def upload() -> None:
        client = AsyncBlobServiceClient.from_connection_string(
            p.connection_string, transport=AsyncioRequestsTransport()
        )
        async with client:
            await client.get_blob_client(p.name, "a.txt").upload_blob(b"x", overwrite=True)

    asyncio.run(upload())


def _chunked_upload(p: Production) -> None:
    client = BlobServiceClient.from_connection_string(
        p.connection_string, max_single_put_size=1024 * 1024, max_block_size=1024 * 1024
    )
    client.get_blob_client(p.name, "big.bin").upload_blob(
        b"x" * (3 * 1024 * 1024), max_concurrency=3
    )


def _bare_open(p: Production) -> None:
    handle = p.storage.open("a.txt", "wb")
    handle.write(b"overwritten")
    try:
        handle.close()
    finally:
        handle.file.close()  # django-storages leaves its spool file open when the upload fails


def _read_turned_write(p: Production) -> None:
    def to_delete(request: Any) -> None:
        request.http_request.method = "DELETE"

    _blob(p).get_blob_properties(raw_request_hook=to_delete)


ATTACKS: dict[str, Callable[[Production], Any]] = {
    "upload through the container client": lambda p: p.storage.client.upload_blob("new.txt", b"x"),
    "overwrite through a blob client": lambda p: _blob(p).upload_blob(b"x", overwrite=True),
    "delete": lambda p: p.storage.client.delete_blob("a.txt"),
    "delete through the service client": lambda p: p.storage.service_client.get_blob_client(
        p.name, "a.txt"
    ).delete_blob(),
    "batch delete": lambda p: p.storage.client.delete_blobs("a.txt", "docs/b.txt"),
    "batch set tier": lambda p: p.storage.client.set_standard_blob_tier_blobs("Cool", "a.txt"),
    "delete the container": lambda p: p.storage.service_client.delete_container(p.name),
    "rename the container": lambda p: p.storage.service_client._rename_container(
        p.name, f"{p.name}-renamed"
    ),
    "container metadata": lambda p: p.storage.client.set_container_metadata({"evil": "1"}),
    "container access policy": lambda p: p.storage.client.set_container_access_policy(
        signed_identifiers={
            "w": AccessPolicy(permission=ContainerSasPermissions(write=True), expiry=sas_expiry())
        },
        public_access="container",
    ),
    "container lease": lambda p: p.storage.client.acquire_lease(),
    "blob metadata": lambda p: _blob(p).set_blob_metadata({"evil": "1"}),
    "blob properties": lambda p: _blob(p).set_http_headers(ContentSettings(content_type="x/evil")),
    "blob tags": lambda p: _blob(p).set_blob_tags({"evil": "1"}),
    "blob lease": lambda p: BlobLeaseClient(_blob(p)).acquire(),
    "snapshot": lambda p: _blob(p).create_snapshot(),
    "copy into the container": lambda p: _blob(p, "copy.txt").start_copy_from_url(_blob(p).url),
    "put blob from URL": lambda p: _blob(p, "copy.txt").upload_blob_from_url(_blob(p).url),
    "stage a block": lambda p: _blob(p).stage_block("YmxvY2s=", b"x"),
    "commit a block list": lambda p: _blob(p).commit_block_list([]),
    "chunked upload in worker threads": _chunked_upload,
    "append blob": lambda p: _blob(p, "log").create_append_blob(),
    "page blob": lambda p: _blob(p, "disk").create_page_blob(512),
    "undelete": lambda p: _blob(p).undelete_blob(),
    "new client from the connection string": lambda p: (
        BlobServiceClient.from_connection_string(p.connection_string)
        .get_blob_client(p.name, "a.txt")
        .upload_blob(b"x", overwrite=True)
    ),
    "localhost instead of 127.0.0.1": lambda p: (
        BlobServiceClient.from_connection_string(connection_string(p.emulator, "localhost"))
        .get_blob_client(p.name, "a.txt")
        .delete_blob()
    ),
    "upper-case host": lambda p: (
        BlobServiceClient(
            f"http://LOCALHOST:{p.emulator.port}/{AZURITE_ACCOUNT}/",
            credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
        )
        .get_blob_client(p.name.upper(), "a.txt")
        .delete_blob()
    ),
    "client built before the protection": lambda p: p.raw.get_blob_client(
        p.name, "a.txt"
    ).delete_blob(),
    "client in another thread": _in_thread,
    "aio client": _async,
    "request hook turning a read into a delete": _read_turned_write,
    "bare backend save": lambda p: p.storage.save("new.txt", ContentFile(b"x")),
    "bare backend delete": lambda p: p.storage.delete("a.txt"),
    "bare backend open for writing": _bare_open,
}

SIGNING: dict[str, Callable[[Production], Any]] = {
    "bare backend url(mode='w')": lambda p: p.storage.url("a.txt", mode="w"),
    "bare backend url(mode='rwd')": lambda p: p.storage.url("a.txt", 300, None, "rwd"),
    "wrapper url(mode='cw')": lambda p: p.wrapper.url("a.txt", mode="cw"),
    "blob SAS with write": lambda p: generate_blob_sas(
        AZURITE_ACCOUNT,
        p.name,
        "a.txt",
        account_key=AZURITE_KEY,
        permission="rw",
        expiry=sas_expiry(),
    ),
    "blob SAS with tags": lambda p: generate_blob_sas(
        AZURITE_ACCOUNT,
        p.name,
        "a.txt",
        account_key=AZURITE_KEY,
        permission="t",
        expiry=sas_expiry(),
    ),
    "blob SAS from a stored access policy": lambda p: generate_blob_sas(
        AZURITE_ACCOUNT, p.name, "a.txt", account_key=AZURITE_KEY, policy_id="anything"
    ),
    "container SAS with delete": lambda p: generate_container_sas(
        AZURITE_ACCOUNT.upper(),
        p.name,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, delete=True),
        expiry=sas_expiry(),
    ),
    "account SAS with write": lambda p: generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        ResourceTypes(container=True, object=True),
        AccountSasPermissions(read=True, write=True),
        sas_expiry(),
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
    if attack.startswith("account SAS"):
        # An account SAS reaches every container of the account; it names one of them.
        assert f"of Azure account {AZURITE_ACCOUNT!r} read-only in this process" in message
    else:
        assert refusal_text(direct) in message
    direct.assert_untouched()


def test_refusal_names_account_container_blob_and_operation(direct: Production) -> None:
    with pytest.raises(ReadOnlyStorageError) as refused:
        _blob(direct).set_blob_metadata({"evil": "1"})
    backend = f"AzureStorage(account_name={AZURITE_ACCOUNT!r}, azure_container={direct.name!r})"
    assert str(refused.value) == (
        f"Azure Blob Storage operation 'Set Metadata (Blob)' (PUT) on "
        f"'azure://{AZURITE_ACCOUNT}/{direct.name}/a.txt' was refused; {backend} "
        f"{refusal_text(direct)}"
    )
    assert refused.value.operation == "Set Metadata (Blob)"
    assert refused.value.name == "a.txt"
    assert refused.value.backend == backend


def test_reads_work(production: Production) -> None:
    wrapper, storage = production.wrapper, production.storage
    with wrapper.open("a.txt") as handle:
        assert handle.read() == b"production a"
    assert wrapper.size("docs/b.txt") == len(SEED["docs/b.txt"])
    assert wrapper.listdir("docs")[1] == ["docs/b.txt"]
    assert wrapper.get_modified_time("a.txt").tzinfo is not None
    with urllib.request.urlopen(wrapper.url("a.txt")) as response:
        assert response.read() == b"production a"
    container = storage.client
    assert container.download_blob("docs/b.txt").readall() == b"production b"
    assert _blob(production).get_blob_properties().metadata == {"seeded": "yes"}
    assert sorted(blob.name for blob in container.list_blobs()) == sorted(SEED)
    assert container.get_container_properties().metadata == {"owner": "production"}
    production.assert_untouched()


def test_aio_clients_read(direct: Production) -> None:
    async def download() -> bytes:
        client = AsyncBlobServiceClient.from_connection_string(
            direct.connection_string, transport=AsyncioRequestsTransport()
        )
        async with client:
            stream = await client.get_blob_client(direct.name, "a.txt").download_blob()
            return bytes(await stream.readall())

    assert asyncio.run(download()) == b"production a"
    direct.assert_untouched()


def test_read_only_signatures_are_signed_and_work(direct: Production) -> None:
    blob_sas = generate_blob_sas(
        AZURITE_ACCOUNT,
        direct.name,
        "a.txt",
        account_key=AZURITE_KEY,
        permission="r",
        expiry=sas_expiry(),
    )
    with urllib.request.urlopen(f"{_blob(direct).url}?{blob_sas}") as response:
        assert response.read() == b"production a"
    container_sas = generate_container_sas(
        AZURITE_ACCOUNT,
        direct.name,
        account_key=AZURITE_KEY,
        permission="rl",
        expiry=sas_expiry(),
    )
    listing = f"{direct.storage.client.url}?restype=container&comp=list&{container_sas}"
    with urllib.request.urlopen(listing) as response:
        assert b"docs/b.txt" in response.read()
    account_sas = generate_account_sas(
        AZURITE_ACCOUNT, AZURITE_KEY, ResourceTypes(object=True), "r", sas_expiry()
    )
    with urllib.request.urlopen(f"{_blob(direct).url}?{account_sas}") as response:
        assert response.read() == b"production a"
    direct.assert_untouched()


def test_copy_out_of_the_protected_container_is_a_read(direct: Production) -> None:
    service = BlobServiceClient.from_connection_string(direct.connection_string)
    scratch = service.create_container(f"scratch-{uuid.uuid4().hex[:12]}")
    scratch.get_blob_client("copy.txt").start_copy_from_url(_blob(direct).url, requires_sync=True)
    assert scratch.download_blob("copy.txt").readall() == b"production a"
    direct.assert_untouched()


def test_other_containers_and_accounts_stay_writable(direct: Production) -> None:
    service = BlobServiceClient.from_connection_string(direct.connection_string)
    service.create_container(f"{direct.name}-dev").upload_blob("new.txt", b"dev")
    # The same container name in another account of the same Azurite.
    other = BlobServiceClient.from_connection_string(
        connection_string(direct.emulator, account=OTHER_ACCOUNT, key=OTHER_KEY)
    )
    other.create_container(direct.name).upload_blob("a.txt", b"other account")
    assert other.get_blob_client(direct.name, "a.txt").download_blob().readall() == (
        b"other account"
    )
    assert generate_blob_sas(
        OTHER_ACCOUNT,
        direct.name,
        "a.txt",
        account_key=OTHER_KEY,
        permission="w",
        expiry=sas_expiry(),
    )
    direct.assert_untouched()


def test_the_same_container_name_on_another_endpoint_stays_writable(
    direct: Production, tmp_path: Path
) -> None:
    for second in emulators.start_azurite(tmp_path):
        service = BlobServiceClient.from_connection_string(connection_string(second))
        container = service.create_container(direct.name)
        container.upload_blob("a.txt", b"another endpoint")
        container.set_container_metadata({"changed": "yes"})
        assert container.download_blob("a.txt").readall() == b"another endpoint"
        container.delete_blob("a.txt")
    direct.assert_untouched()


def test_is_protected_and_describe(azurite: Emulator) -> None:
    name = f"prod-{uuid.uuid4().hex[:12]}"
    storage = AzureStorage(connection_string=connection_string(azurite), azure_container=name)
    assert azure_guard.handles(storage)
    assert not azure_guard.handles(FileSystemStorage())
    assert not azure_guard.is_protected(storage)
    assert not azure_guard.is_protected(FileSystemStorage())
    assert azure_guard.describe(storage) == (
        f"AzureStorage(account_name={AZURITE_ACCOUNT!r}, azure_container={name!r})"
    )
    ReadOnlyStorage(backend=storage).backend  # noqa: B018 - building it protects the container
    assert azure_guard.is_protected(storage)
    # Another storage object on the same container (spelled with localhost) is protected too.
    same = AzureStorage(
        connection_string=connection_string(azurite, "localhost"), azure_container=name
    )
    assert azure_guard.is_protected(same)


def test_protect_refuses_other_storages() -> None:
    with pytest.raises(TypeError, match="needs a django-storages AzureStorage instance"):
        azure_guard.protect(FileSystemStorage())


def test_a_container_url_that_names_no_account_cannot_be_protected() -> None:
    storage = AzureStorage(
        connection_string=(
            f"DefaultEndpointsProtocol=https;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=https://cdn.example.com;"
        ),
        azure_container="media",
    )
    with pytest.raises(ImproperlyConfigured) as refused:
        ReadOnlyStorage(backend=storage).backend  # noqa: B018
    assert str(refused.value) == (
        f"ReadOnlyStorage cannot tell which Azure container "
        f"AzureStorage(account_name={AZURITE_ACCOUNT!r}, azure_container='media') uses from "
        f"its container URL 'https://cdn.example.com/media'; point the storage at the "
        f"account's blob endpoint (https://<account>.blob.core.windows.net) or a path-style "
        f"emulator URL (http://127.0.0.1:10000/<account>)."
    )


def test_seeding_lets_a_fixture_write(direct: Production) -> None:
    from fallback_storage.protection import seeding

    with seeding(direct.name):
        _blob(direct, "seeded-later.txt").upload_blob(b"seeded")
    with pytest.raises(ReadOnlyStorageError):
        _blob(direct, "after.txt").upload_blob(b"x")
    assert _blob(direct, "seeded-later.txt").download_blob().readall() == b"seeded"


def test_the_records_see_writes_that_reach_a_container(azurite: Emulator) -> None:
    # The same records on a container nothing protects: their silence above means something.
    name = f"dev-{uuid.uuid4().hex[:12]}"
    raw = BlobServiceClient.from_connection_string(connection_string(azurite))
    seed(raw, name)
    production = Production(azurite, name, raw, AzureStorage(), None)
    production.before = production.state()
    production.mark = azurite.mark()
    raw.get_blob_client(name, "a.txt").set_blob_metadata({"changed": "yes"})
    assert production.writes() == [("PUT", f"/{AZURITE_ACCOUNT}/{name}/a.txt?comp=metadata")]
    assert production.state() != production.before
