"""The app protects every read-only cloud container of settings.STORAGES when Django starts.

Startup is run for real, in a fresh Python process per case: django.setup() with the app
installed or not, then a write to the bucket through the bare backend before anything used the
ReadOnlyStorage. The bucket is moto's in-process mock, so the script itself reads the object
back afterwards (a read, which protection lets through) and reports what the bucket holds.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import InMemoryStorage
from django.test import override_settings
from storages.backends.s3 import S3Storage

from fallback_storage import s3_guard
from fallback_storage.apps import protect_configured_storages

SCRIPT = """
import json, sys
import boto3
from moto import mock_aws

with mock_aws():
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"production a")
    import django
    django.setup()
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages
    try:
        storages["prod"].save("a.txt", ContentFile(b"overwritten"))
        outcome = "written"
    except PermissionError as error:
        outcome = f"refused: {error}"
    body = client.get_object(Bucket=BUCKET, Key="a.txt")["Body"].read().decode()
    print(json.dumps({"outcome": outcome, "a.txt": body}))
"""


def start_django(tmp_path: Path, *, installed: bool) -> dict[str, str]:
    bucket = f"startup-{uuid.uuid4().hex[:12]}"
    apps = ["fallback_storage"] if installed else []
    (tmp_path / "startup_settings.py").write_text(
        textwrap.dedent(
            f"""
            SECRET_KEY = "NOTASECRET"
            USE_TZ = True
            INSTALLED_APPS = {apps!r}
            S3 = {{
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {{"bucket_name": {bucket!r}, "region_name": "us-east-1"}},
            }}
            STORAGES = {{
                "default": {{
                    "BACKEND": "fallback_storage.storage.FallbackStorage",
                    "OPTIONS": {{"backends": [
                        "django.core.files.storage.InMemoryStorage",
                        {{"BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                         "OPTIONS": {{"backend": "prod"}}}},
                    ]}},
                }},
                "prod": S3,
                "broken": {{
                    "BACKEND": "fallback_storage.storage.FallbackStorage",
                    "OPTIONS": {{"backends": ["nowhere"]}},
                }},
            }}
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-c", f"BUCKET = {bucket!r}\n{SCRIPT}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "startup_settings",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        },
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, str] = json.loads(result.stdout.splitlines()[-1])
    return outcome


def test_with_the_app_installed_protection_starts_when_django_starts(tmp_path: Path) -> None:
    outcome = start_django(tmp_path, installed=True)
    assert outcome["outcome"].startswith("refused: S3 operation 'PutObject' on 's3://startup-")
    assert outcome["a.txt"] == "production a"


def test_without_the_app_protection_starts_when_the_read_only_storage_is_built(
    tmp_path: Path,
) -> None:
    # Nothing built storages["default"] yet, so nothing protects the bucket: the documented
    # reason to install the app.
    outcome = start_django(tmp_path, installed=False)
    assert outcome == {"outcome": "written", "a.txt": "overwritten"}


class Exploding(InMemoryStorage):
    def __init__(self, **options: Any) -> None:
        raise RuntimeError("this backend cannot start")


def test_storages_that_cannot_be_built_do_not_stop_startup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = f"startup-{uuid.uuid4().hex[:12]}"
    s3 = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": bucket}}
    read_only = {"BACKEND": "fallback_storage.storage.ReadOnlyStorage", "OPTIONS": {"backend": s3}}
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "unknown": {"BACKEND": "nowhere.Storage"},
            "broken": {"BACKEND": "fallback_storage.storage.FallbackStorage"},
            "exploding": {
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": [f"{__name__}.Exploding"]},
            },
            "media": {
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": ["django.core.files.storage.InMemoryStorage", read_only]},
            },
        },
    ):
        with pytest.raises(ImproperlyConfigured):
            from django.core.files.storage import storages

            cast(Any, storages["broken"]).backends  # noqa: B018 - E002 reports it
        with caplog.at_level(logging.ERROR, logger="fallback_storage.apps"):
            assert protect_configured_storages() == ["media"]
    assert [record.getMessage() for record in caplog.records] == [
        "settings.STORAGES['exploding'] could not be built at startup; its read-only layers "
        "are protected at first use instead."
    ]
    assert s3_guard.is_protected(S3Storage(bucket_name=bucket))
