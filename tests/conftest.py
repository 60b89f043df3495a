"""Fixtures shared by the whole suite.

Every test runs with dummy AWS credentials and no AWS config files, so the
machine's own credentials can never reach a test, not even by accident.
"""

from __future__ import annotations

import gc
import importlib.util
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore_models import parse_each_model_once
from counting_s3 import CountingS3Server
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from storages.backends.s3 import S3Storage

# production.py is a helper module, not a test module: have pytest rewrite its asserts too.
pytest.register_assert_rewrite("production")

# Each botocore model file is parsed once per test process; every session gets its own copy.
parse_each_model_once()

# The collector runs after every 700 new container objects by default, and each run of an older
# generation walks the whole heap of everything the suite imported; one new boto3 session makes
# a hundred thousand objects (its models, endpoint rules and event handlers). Collecting young
# objects every 100,000 instead, and the older generations less often, is what a test process
# with a large, long-lived heap wants: the same suite ran in 94 s instead of 109 s without
# coverage (docs/architecture.rst). Garbage is still collected, only in bigger batches.
gc.set_threshold(100_000, 50, 1000)

# The browser test needs Playwright, which only the `browser` tox env installs (with Debian's
# Chromium); there it runs, and under CI it fails rather than skips when it cannot. Elsewhere it
# is not collected, so the README's test command reports no skip for it.
collect_ignore = [] if importlib.util.find_spec("playwright") else ["test_browser.py"]

DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def dummy_aws_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for variable in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in DUMMY_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    nowhere = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))


@pytest.fixture(autouse=True)
def no_azure_or_google_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The machine's Azure and Google configuration never reaches a test either.

    The Azure and GCS tests pass Azurite's public development key and anonymous Google
    credentials explicitly; nothing may find others, nor ask a metadata server.
    """
    for variable in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "STORAGE_EMULATOR_HOST",
        "API_ENDPOINT_OVERRIDE",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path_factory.getbasetemp() / "no-gcloud-config"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


@pytest.fixture
def local_dir(tmp_path: Path) -> Path:
    path = tmp_path / "local"
    path.mkdir()
    return path


@pytest.fixture
def prod_dir(tmp_path: Path) -> Path:
    path = tmp_path / "prod"
    path.mkdir()
    return path


@pytest.fixture
def local(local_dir: Path) -> FileSystemStorage:
    return FileSystemStorage(location=str(local_dir), base_url="/local/")


@pytest.fixture
def prod(prod_dir: Path) -> FileSystemStorage:
    return FileSystemStorage(location=str(prod_dir), base_url="https://prod.example/")


@pytest.fixture
def aliased_storages(local_dir: Path, prod_dir: Path) -> Iterator[None]:
    """STORAGES with a "local" and a "prod" alias on temporary directories."""
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(local_dir), "base_url": "/local/"},
            },
            "prod": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(prod_dir), "base_url": "https://prod.example/"},
            },
        }
    ):
        yield


@pytest.fixture(scope="session")
def s3_server() -> Iterator[CountingS3Server]:
    """One moto S3 server on 127.0.0.1 for the session, recording every request."""
    server = CountingS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_storage_factory(
    s3_server: CountingS3Server, dummy_aws_credentials: None
) -> Callable[..., S3Storage]:
    """Build S3Storage instances that talk to ``s3_server`` over HTTP."""

    def factory(bucket: str, **options: Any) -> S3Storage:
        return S3Storage(
            bucket_name=bucket,
            endpoint_url=s3_server.endpoint_url,
            region_name="us-east-1",
            access_key="testing",
            secret_key="testing",
            addressing_style="path",
            **options,
        )

    return factory


@pytest.fixture
def production_bucket(s3_server: CountingS3Server, dummy_aws_credentials: None) -> Iterator[str]:
    """A fresh bucket on ``s3_server`` seeded with ``prod-only.txt`` and ``both.txt``."""
    bucket = f"production-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="prod-only.txt", Body=b"from production")
    client.put_object(Bucket=bucket, Key="both.txt", Body=b"production copy")
    s3_server.clear()
    yield bucket
    client.close()
