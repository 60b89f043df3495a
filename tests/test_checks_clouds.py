"""Check W001 for Azure Blob Storage and Google Cloud Storage layers of a FallbackStorage.

W001 warns about every writable cloud layer reachable inside a FallbackStorage while DEBUG is
on, for each service with a guard in ``fallback_storage.cloud_guards.guards()``. Building the
storages sends no request, so the endpoint below needs no server.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import CheckMessage, run_checks
from django.test import override_settings
from google.auth.credentials import AnonymousCredentials

from fallback_storage import azure_guard, cloud_guards, gcs_guard

FALLBACK = "fallback_storage.storage.FallbackStorage"
READ_ONLY = "fallback_storage.storage.ReadOnlyStorage"
FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def anonymous() -> Any:
    """Google's anonymous credentials (google-auth's constructor is untyped)."""
    return AnonymousCredentials()  # type: ignore[no-untyped-call]


def ours() -> list[CheckMessage]:
    return [m for m in run_checks(include_deployment_checks=False) if m.id and "fallback" in m.id]


def azure(container: str) -> dict[str, Any]:
    return {
        "BACKEND": "storages.backends.azure_storage.AzureStorage",
        "OPTIONS": {
            "connection_string": (
                f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
                f"BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
            ),
            "azure_container": container,
        },
    }


def google(bucket: str) -> dict[str, Any]:
    return {
        "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
        "OPTIONS": {
            "bucket_name": bucket,
            "project_id": "check-project",
            "credentials": anonymous(),
        },
    }


def fallback(*backends: Any) -> dict[str, Any]:
    return {"BACKEND": FALLBACK, "OPTIONS": {"backends": list(backends)}}


def read_only(backend: Any) -> dict[str, Any]:
    return {"BACKEND": READ_ONLY, "OPTIONS": {"backend": backend}}


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    suffix = uuid.uuid4().hex[:12]
    return f"check-{suffix}", f"check-{suffix}-gcs"


def test_both_services_have_a_guard() -> None:
    assert {azure_guard, gcs_guard} <= set(cloud_guards.guards())


def test_w001_for_writable_azure_and_gcs_layers(tmp_path: Path, names: tuple[str, str]) -> None:
    container, bucket = names
    local = {"BACKEND": FILE_SYSTEM, "OPTIONS": {"location": str(tmp_path)}}
    nested = fallback(local, azure(container), fallback(google(bucket)))
    with override_settings(DEBUG=True, STORAGES={"default": nested}):
        messages = ours()
    assert [message.id for message in messages] == ["fallback_storage.W001"] * 2
    azure_warning, gcs_warning = messages
    assert "settings.STORAGES['default'] backend 1" in azure_warning.msg
    assert repr(container) in azure_warning.msg and "AzureStorage" in azure_warning.msg
    assert "backend 2" in gcs_warning.msg
    assert repr(bucket) in gcs_warning.msg and "GoogleCloudStorage" in gcs_warning.msg
    for message in messages:
        assert message.hint is not None and "ReadOnlyStorage" in message.hint
    with override_settings(DEBUG=False, STORAGES={"default": nested}):
        assert ours() == []


def test_no_w001_once_the_cloud_layers_are_read_only(
    tmp_path: Path, names: tuple[str, str]
) -> None:
    container, bucket = names
    local = {"BACKEND": FILE_SYSTEM, "OPTIONS": {"location": str(tmp_path)}}
    wrapped = fallback(local, read_only(azure(container)), read_only(fallback(google(bucket))))
    with override_settings(DEBUG=True, STORAGES={"default": wrapped}):
        assert ours() == []
