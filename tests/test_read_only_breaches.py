"""Issue 12: each way a protected storage was written before, reproduced, and refused now.

One test (or one parametrized test) per breach of the issue, numbered as there. The ground truth
is what the protected storage holds afterwards, read around the package: for S3 the bucket's
state through a separate unprotected client and the moto server's access log
(``Production.assert_untouched()``), for a directory its files, for an in-memory storage its
content. Breach 2 (CRT transfers) is proved in ``test_s3_hooks.py`` and breach 4 (write URLs of
other backends) in ``test_write_urls.py``, beside the rest of their rules; both are listed here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import production as shared
import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage, staticfiles_storage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, default_storage, storages
from django.test import override_settings
from django.utils.functional import SimpleLazyObject
from django_42 import OVERRIDE_DROPS_OPTIONS
from production import BACKEND, BUCKET, SEED, Production
from storages.backends.s3 import S3ManifestStaticStorage, S3Storage

from fallback_storage import FallbackStorage, ReadOnlyStorage, ReadOnlyStorageError, s3_guard

moto_server = shared.moto_server
unprotected = shared.unprotected
fresh = shared.fresh

# -- ground truth helpers --------------------------------------------------------------------


def files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def refused(write: Callable[[], object]) -> str:
    """The operation a refusal named, or what happened instead."""
    try:
        write()
    except ReadOnlyStorageError as error:
        return error.operation
    except Exception as error:  # noqa: BLE001 - reported as the test's failure
        return f"not refused: {type(error).__name__}: {error}"
    return "not refused"


def storages_on(production: Production, **entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": production.options},
        "staticfiles": {
            "BACKEND": "storages.backends.s3.S3ManifestStaticStorage",
            "OPTIONS": production.options,
        },
        **entries,
    }


# -- 1. wrapping a lazy object ----------------------------------------------------------------


LAZY_WRITES: dict[str, tuple[str, Callable[[Any], object]]] = {
    "bucket.put_object": ("PutObject", lambda ro: ro.bucket.put_object(Key="a.txt", Body=b"x")),
    "backend.delete": ("DeleteObject", lambda ro: ro.backend.delete("a.txt")),
    "backend.save": ("PutObject", lambda ro: ro.backend.save("a.txt", ContentFile(b"x"))),
    "url(name, None, 600, 'PUT')": (
        "sign a PUT URL for",
        lambda ro: ro.url("a.txt", None, 600, "PUT"),
    ),
    "backend.url(http_method='PUT')": (
        "GetObject",
        lambda ro: ro.backend.url("a.txt", http_method="PUT"),
    ),
}


@pytest.mark.parametrize(
    "lazy", [pytest.param("default_storage", marks=OVERRIDE_DROPS_OPTIONS), "SimpleLazyObject"]
)
def test_1_a_read_only_storage_over_a_lazy_object_protects_what_it_stands_for(
    unprotected: Production, lazy: str
) -> None:
    unprotected.before = unprotected.snapshot()
    with override_settings(STORAGES=storages_on(unprotected)):
        target: Any = default_storage
        if lazy == "SimpleLazyObject":
            target = SimpleLazyObject(lambda: S3Storage(**unprotected.options))
        read_only = ReadOnlyStorage(backend=target)
        outcomes = {
            what: refused(functools.partial(write, read_only))
            for what, (_, write) in LAZY_WRITES.items()
        }
        assert outcomes == {what: operation for what, (operation, _) in LAZY_WRITES.items()}
        assert s3_guard.is_protected(read_only.backend)
        with read_only.open("a.txt") as handle:
            assert handle.read() == SEED["a.txt"]
    unprotected.assert_untouched()


@OVERRIDE_DROPS_OPTIONS
def test_1_post_process_of_a_lazy_staticfiles_storage_is_refused(unprotected: Production) -> None:
    unprotected.before = unprotected.snapshot()
    with override_settings(STORAGES=storages_on(unprotected)):
        read_only = ReadOnlyStorage(backend=staticfiles_storage)
        assert isinstance(read_only.backend, S3ManifestStaticStorage)
        source = FileSystemStorage(location=str(Path(__file__).parent))
        with pytest.raises(ReadOnlyStorageError) as caught:
            list(read_only.post_process({"a.txt": (source, "conftest.py")}))
        assert caught.value.operation == "post_process()"
        with pytest.raises(ReadOnlyStorageError):
            read_only.save_manifest()
        with pytest.raises(ReadOnlyStorageError):
            cast(Any, staticfiles_storage).save_manifest()  # bare, on a protected bucket
    unprotected.assert_untouched()


# -- 2. CRT transfers: test_s3_hooks.py ---------------------------------------------------------
#   test_crt_transfers_to_a_protected_bucket_are_refused (create_transfer_manager, S3Transfer,
#   boto3.s3.inject.upload_fileobj, client.upload_fileobj with a CRT config),
#   test_crt_transfers_of_a_bucket_protected_on_aws_are_refused, and the control
#   test_crt_transfers_of_an_unprotected_bucket_reach_the_crt_client.


# -- 3. write methods passed through the wrapper ---------------------------------------------------


@pytest.fixture
def collected(tmp_path: Path, settings: Any) -> Path:
    """A directory as collectstatic leaves it: files, hashed copies and the manifest."""
    settings.STATIC_URL = "/static/"
    root = tmp_path / "collected"
    source = tmp_path / "static"
    source.mkdir()
    (source / "site.css").write_text("body { color: red; }")
    storage = ManifestStaticFilesStorage(location=str(root))
    storage.save("site.css", ContentFile(b"body { color: red; }"))
    list(storage.post_process({"site.css": (FileSystemStorage(location=str(source)), "site.css")}))
    assert (root / "staticfiles.json").exists()
    return root


def test_3_write_methods_of_a_manifest_storage_are_refused(collected: Path) -> None:
    before = files(collected)
    read_only = ReadOnlyStorage(ManifestStaticFilesStorage(location=str(collected)))
    source = FileSystemStorage(location=str(collected))
    with pytest.raises(ReadOnlyStorageError) as caught:
        read_only.save_manifest()
    assert str(caught.value) == (
        "ReadOnlyStorage refused to call save_manifest() of ManifestStaticFilesStorage, which "
        "is not known to only read; write through a writable backend beside it in "
        "FallbackStorage, or, if save_manifest() only reads, list it in ReadOnlyStorage's "
        "'read_methods' option."
    )
    with pytest.raises(ReadOnlyStorageError, match=r"^ReadOnlyStorage refused to call post_proc"):
        list(read_only.post_process({"site.css": (source, "site.css")}))
    # The manifest storage it holds is lent read-only too.
    with pytest.raises(ReadOnlyStorageError):
        read_only.manifest_storage.save("staticfiles.json", ContentFile(b"{}"))
    assert read_only.url("site.css").startswith("/static/site.")  # reads still work
    assert files(collected) == before


@pytest.mark.parametrize("kind", ["filesystem", "s3"])
def test_3_clear_whiteouts_of_a_wrapped_fallback_storage_is_refused(
    kind: str, prod_dir: Path, unprotected: Production
) -> None:
    layer: Any
    unprotected.before = unprotected.snapshot()
    if kind == "filesystem":
        (prod_dir / ".wh.gone.txt").write_bytes(b"")
        layer = FileSystemStorage(location=str(prod_dir))
    else:
        unprotected.add({".wh.gone.txt": b""})
        layer = unprotected.storage
    before = files(prod_dir)
    read_only = ReadOnlyStorage(FallbackStorage(backends=[layer], whiteouts=True))
    assert read_only.list_whiteouts() == ["gone.txt"]
    with pytest.raises(ReadOnlyStorageError) as caught:
        read_only.clear_whiteouts()
    assert caught.value.operation == "clear_whiteouts()"
    assert read_only.list_whiteouts() == ["gone.txt"]
    assert files(prod_dir) == before
    unprotected.assert_untouched()


# -- 4. write URLs of other backends: test_write_urls.py --------------------------------------
#   test_azure_write_urls_are_refused (mode "w", "cw", "rwd", positional, permission and
#   policy_id in parameters), test_google_cloud_write_urls_are_refused (parameters method,
#   http_method), test_s3_write_urls_are_refused (http_method, positional too).


# -- 5. nesting -----------------------------------------------------------------------------------


NESTED_WRITES: dict[str, tuple[str, Callable[[Any], object]]] = {
    "bucket.put_object": ("PutObject", lambda ro: ro.bucket.put_object(Key="a.txt", Body=b"x")),
    "backends[0].delete": ("delete", lambda ro: ro.backends[0].delete("a.txt")),
    "backend.backends[0].delete": (
        "DeleteObject",
        lambda ro: ro.backend.backends[0].delete("a.txt"),
    ),
    "connection.meta.client.delete_object": (
        "DeleteObject",
        lambda ro: ro.connection.meta.client.delete_object(Bucket=BUCKET, Key="a.txt"),
    ),
    "url(name, http_method='PUT')": (
        "sign a PUT URL for",
        lambda ro: ro.url("a.txt", http_method="PUT"),
    ),
}


def test_5_an_s3_layer_nested_in_a_wrapped_fallback_storage_is_protected(
    unprotected: Production, local: FileSystemStorage
) -> None:
    unprotected.before = unprotected.snapshot()
    read_only = ReadOnlyStorage(FallbackStorage(backends=[unprotected.storage]))
    outcomes = {
        what: refused(functools.partial(write, read_only))
        for what, (_, write) in NESTED_WRITES.items()
    }
    assert outcomes == {what: operation for what, (operation, _) in NESTED_WRITES.items()}
    # Deeper still, behind a writable layer: writes land on the local disk.
    deeper = FallbackStorage(
        backends=[local, ReadOnlyStorage(FallbackStorage([FallbackStorage([unprotected.storage])]))]
    )
    name = deeper.save("a.txt", ContentFile(b"local"))
    assert local.exists(name)
    assert refused(lambda: deeper.bucket.Object("a.txt").delete()) == "DeleteObject"
    unprotected.assert_untouched()


# -- 6. clients made elsewhere ---------------------------------------------------------------------


class OwnSessionS3Storage(S3Storage):  # type: ignore[misc]
    """A subclass whose connection builds its own boto3 session every time."""

    @property
    def connection(self) -> Any:
        session = boto3.session.Session()
        return session.resource(
            "s3", region_name="us-east-1", endpoint_url=self.endpoint_url, config=self.client_config
        )


def test_6_a_subclass_that_builds_its_own_session_is_protected(unprotected: Production) -> None:
    unprotected.before = unprotected.snapshot()
    storage = OwnSessionS3Storage(**unprotected.options)
    ReadOnlyStorage(storage)
    assert refused(lambda: storage.connection.Object(BUCKET, "a.txt").delete()) == "DeleteObject"
    assert refused(lambda: storage.save("a.txt", ContentFile(b"x"))) == "PutObject"
    unprotected.assert_untouched()


def test_6_a_client_taken_in_another_thread_before_protection_is_refused(fresh: Production) -> None:
    fresh.before = fresh.snapshot()
    storage, bucket = fresh.storage, fresh.bucket
    taken, protected = threading.Event(), threading.Event()
    outcome: list[str] = []

    def take_then_write() -> None:
        client = storage.connection.meta.client
        taken.set()
        protected.wait()
        outcome.append(refused(lambda: client.put_object(Bucket=bucket, Key="a.txt", Body=b"x")))

    thread = threading.Thread(target=take_then_write)
    thread.start()
    taken.wait()
    ReadOnlyStorage(S3Storage(**fresh.options))  # another storage object on the same bucket
    protected.set()
    thread.join()
    assert outcome == ["PutObject"]
    fresh.assert_untouched()


def test_6_the_bare_backend_used_before_the_wrappers_first_use_is_refused(
    fresh: Production,
) -> None:
    fresh.before = fresh.snapshot()
    raw = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": fresh.options}
    read_only = {
        "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
        "OPTIONS": {"backend": "prod"},
    }
    with override_settings(STORAGES=storages_on(fresh, prod=raw, ro=read_only)):
        storages["ro"]  # noqa: B018 - constructed, never used
        assert refused(lambda: storages["prod"].save("a.txt", ContentFile(b"x"))) == "PutObject"
        assert refused(lambda: storages["prod"].delete("a.txt")) == "DeleteObject"
    fresh.assert_untouched()


def test_6_brand_new_clients_and_clients_from_its_credentials_are_refused(
    unprotected: Production,
) -> None:
    unprotected.before = unprotected.snapshot()
    read_only = ReadOnlyStorage(unprotected.storage)
    endpoint = unprotected.options.get("endpoint_url")
    credentials = read_only.connection.meta.client._get_credentials().get_frozen_credentials()
    clients = {
        "boto3.client": boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint),
        "boto3.resource": boto3.resource(
            "s3", region_name="us-east-1", endpoint_url=endpoint
        ).meta.client,
        "from its credentials": boto3.session.Session(
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token,
        ).client("s3", region_name="eu-west-1", endpoint_url=endpoint),
    }
    outcomes = {
        name: refused(functools.partial(client.delete_object, Bucket=BUCKET, Key="a.txt"))
        for name, client in clients.items()
    }
    assert outcomes == dict.fromkeys(clients, "DeleteObject")
    unprotected.assert_untouched()


# -- 7. read handles that write --------------------------------------------------------------------


@pytest.fixture
def memory() -> Iterator[InMemoryStorage]:
    storage = InMemoryStorage()
    storage.save("a.txt", ContentFile(b"original"))
    yield storage


def test_7_a_handle_opened_for_reading_does_not_write(memory: InMemoryStorage) -> None:
    handle: Any = ReadOnlyStorage(memory).open("a.txt", "rb")
    writes: list[Callable[[], object]] = [
        lambda: handle.write(b"changed"),
        lambda: handle.writelines([b"changed"]),
        lambda: handle.truncate(0),
        lambda: handle.file.write(b"changed"),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyStorageError):
            write()
    handle.close()
    with memory.open("a.txt", "rb") as original:
        assert original.read() == b"original"


# -- 8. CreateSession ------------------------------------------------------------------------------


def test_8_create_session_mints_no_read_write_credentials(unprotected: Production) -> None:
    unprotected.before = unprotected.snapshot()
    ReadOnlyStorage(unprotected.storage)
    client = unprotected.storage.connection.meta.client
    assert refused(lambda: client.create_session(Bucket=BUCKET)) == "CreateSession"
    assert [url for _, url in unprotected.requests() if "session" in url] == []
    unprotected.assert_untouched()


def test_breaches_are_refused_naming_the_protecting_backend(unprotected: Production) -> None:
    ReadOnlyStorage(unprotected.storage)
    with pytest.raises(ReadOnlyStorageError) as caught:
        boto3.client(
            "s3", region_name="us-east-1", endpoint_url=unprotected.options.get("endpoint_url")
        ).put_object(Bucket=BUCKET, Key="docs/b.txt", Body=b"x")
    assert (caught.value.operation, caught.value.name, caught.value.bucket) == (
        "PutObject",
        "docs/b.txt",
        BUCKET,
    )
    assert caught.value.backend == BACKEND
    assert "s3://production/docs/b.txt" in str(caught.value)
    assert "without ReadOnlyStorage" not in str(caught.value)
