"""AzureContainerGuard and GCSBucketGuard, BucketGuard's equivalents, against the emulators."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import emulators
import pytest
from azure.storage.blob import BlobServiceClient
from emulators import AZURITE_ACCOUNT, Emulator
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs
from test_azure_guard import connection_string

from fallback_storage.exceptions import BucketTouchedError, ReadOnlyStorageError
from fallback_storage.testing import AzureContainerGuard, ContainerRequest, GCSBucketGuard

azurite = emulators.azurite
gcs_emulator = emulators.gcs_emulator


def anonymous() -> Any:
    """Google's anonymous credentials (google-auth's constructor is untyped)."""
    return AnonymousCredentials()  # type: ignore[no-untyped-call]


@pytest.fixture
def container(azurite: Emulator) -> Any:
    service = BlobServiceClient.from_connection_string(connection_string(azurite))
    created = service.create_container(f"guarded-{uuid.uuid4().hex[:12]}")
    created.upload_blob("a.txt", b"a")
    return created


@pytest.fixture
def bucket(gcs_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    client = gcs.Client(project="test", credentials=anonymous())
    created = client.create_bucket(f"guarded-{uuid.uuid4().hex[:12]}")
    created.blob("a.txt").upload_from_string(b"a")
    yield created


def line_of(marker: str) -> str:
    """``tests/test_cloud_testing.py:N`` for the line of this file holding ``marker``."""
    with open(__file__) as source:
        for number, line in enumerate(source, 1):
            if marker in line and "line_of(" not in line:
                return f"test_cloud_testing.py:{number}"
    raise AssertionError(marker)


def test_azure_guard_refuses_and_reports_writes(container: Any) -> None:
    with pytest.raises(BucketTouchedError) as touched:  # noqa: SIM117 - the guard must raise inside
        with AzureContainerGuard(container.container_name) as guard:
            with pytest.raises(ReadOnlyStorageError) as refused:
                container.upload_blob("b.txt", b"b")  # azure-upload
            assert container.download_blob("a.txt").readall() == b"a"
    assert str(refused.value) == (
        f"Azure Blob Storage request 'Put Blob' on "
        f"'azure://{AZURITE_ACCOUNT}/{container.container_name}/b.txt' was refused; container "
        f"{container.container_name!r} is guarded by fallback_storage.testing.AzureContainerGuard, "
        f"which lets only reads reach it, make the code under test write to another container."
    )
    report = str(touched.value)
    assert report.startswith(
        f"1 Azure Blob Storage request(s) that are not reads reached guarded container(s) "
        f"{container.container_name!r}; make the code under test write elsewhere"
    )
    assert (
        f"  Put Blob azure://{AZURITE_ACCOUNT}/{container.container_name}/b.txt (called from "
        in report
    )
    assert line_of("# azure-upload") in report
    assert [request.operation for request in guard.reads] == ["Get Blob"]
    assert touched.value.requests == tuple(guard.writes)
    assert all(isinstance(request, ContainerRequest) for request in guard.requests)
    assert not container.get_blob_client("b.txt").exists()


def test_azure_guard_without_blocking_lets_the_write_through_and_fails(container: Any) -> None:
    guard = AzureContainerGuard(f"{AZURITE_ACCOUNT}/{container.container_name}", block=False)
    with pytest.raises(BucketTouchedError, match="Delete Blob"), guard:
        container.delete_blob("a.txt")
    assert not container.get_blob_client("a.txt").exists()


def test_azure_guard_lets_reads_and_other_containers_pass(
    container: Any, azurite: Emulator
) -> None:
    service = BlobServiceClient.from_connection_string(connection_string(azurite))
    other = service.create_container(f"other-{uuid.uuid4().hex[:12]}")

    @AzureContainerGuard(container.container_name, "unused")
    def work() -> None:
        assert container.download_blob("a.txt").readall() == b"a"
        other.upload_blob("b.txt", b"b")
        other.delete_blob("b.txt")

    work()


def test_gcs_guard_refuses_and_reports_writes(bucket: Any) -> None:
    with pytest.raises(BucketTouchedError) as touched:  # noqa: SIM117 - the guard must raise inside
        with GCSBucketGuard(bucket.name) as guard:
            with pytest.raises(ReadOnlyStorageError) as refused:
                bucket.blob("a.txt").delete()  # gcs-delete
            assert bucket.blob("a.txt").download_as_bytes() == b"a"
    assert str(refused.value) == (
        f"Google Cloud Storage request 'objects.delete' on 'gs://{bucket.name}/a.txt' was "
        f"refused; bucket {bucket.name!r} is guarded by fallback_storage.testing.GCSBucketGuard, "
        f"which lets only reads reach it, make the code under test write to another bucket."
    )
    report = str(touched.value)
    assert f"  objects.delete gs://{bucket.name}/a.txt (called from " in report
    assert line_of("# gcs-delete") in report
    assert [request.operation for request in guard.reads] == ["objects.get"]
    assert bucket.blob("a.txt").exists()


def test_gcs_guard_without_blocking_lets_the_write_through_and_fails(bucket: Any) -> None:
    with (
        pytest.raises(BucketTouchedError, match="objects.insert"),
        GCSBucketGuard(bucket.name, block=False),
    ):
        bucket.blob("b.txt").upload_from_string(b"b")
    assert bucket.blob("b.txt").download_as_bytes() == b"b"


def test_nested_use_reports_once_on_the_way_out(bucket: Any) -> None:
    guard = GCSBucketGuard(bucket.name, block=False)
    with pytest.raises(BucketTouchedError):  # noqa: SIM117
        with guard:
            with guard:
                bucket.blob("b.txt").upload_from_string(b"b")
            assert len(guard.writes) == 1  # the inner exit did not raise


@pytest.mark.parametrize("guard", [AzureContainerGuard, GCSBucketGuard])
def test_guards_need_names(guard: Any) -> None:
    kind = "container" if guard is AzureContainerGuard else "bucket"
    with pytest.raises(ValueError, match=f"^{guard.__name__} needs {kind} names, got \\(\\)"):
        guard()


def test_no_sdk_is_imported_before_a_backend_of_its_service_exists(tmp_path: Any) -> None:
    script = f"""
import subprocess
import sys
import django
from django.conf import settings
settings.configure(USE_TZ=True)
django.setup()
from django.core.files.storage import FileSystemStorage
from fallback_storage import ReadOnlyStorage, checks, testing
from fallback_storage import azure_guard, cloud_guards, gcs_guard
storage = ReadOnlyStorage(backend=FileSystemStorage(location={str(tmp_path)!r}))
assert not storage.exists("a.txt")
assert not azure_guard.handles(storage.backend) and not gcs_guard.handles(storage.backend)
loaded = [name for name in sys.modules if name.startswith(("azure", "google"))]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
