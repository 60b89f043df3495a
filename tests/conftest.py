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
from botocore_models import load_botocore_data_once
from counting_s3 import CountingS3Server
from django.core.files.storage import FileSystemStorage
from django.test import override_settings
from moto_routing import route_each_host_once
from storages.backends.s3 import S3Storage

# production.py is a helper module, not a test module: have pytest rewrite its asserts too.
pytest.register_assert_rewrite("production")

# botocore parses each data file and lists its directories once per test process; every
# session gets copies of its own.
load_botocore_data_once()
# moto's server works out the service of each host name once per process, not per request.
route_each_host_once()

# The garbage collector, tuned for a test process: a large heap that lives as long as the process
# (Django, boto3, moto, google-cloud and the test modules), and tests that make a hundred thousand
# short-lived objects at a time (every new boto3 session: models, endpoint rules, handlers). By
# default the youngest generation is collected every 700 new objects and the whole heap is
# walked every hundred of those. Here the young generation is collected every 100,000 objects,
# and the heap imported by collection is frozen (`pytest_collection_finish` below), so a full
# collection walks only what the tests made. Garbage is still collected, in bigger batches: one
# process running test_s3_guard.py and test_production_untouched.py peaked at 570 MB instead of
# 320 MB and took 33 s instead of 47 s (docs/architecture.rst).
gc.set_threshold(100_000, 10, 10)

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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection imported: full collections leave it alone from here on."""
    gc.collect()
    gc.freeze()
