"""Fixtures shared by the whole suite.

Every test runs with dummy AWS credentials and no AWS config files, so the
machine's own credentials can never reach a test, not even by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import override_settings

# production.py is a helper module, not a test module: have pytest rewrite its asserts too.
pytest.register_assert_rewrite("production")

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
