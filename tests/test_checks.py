"""The system checks of fallback_storage.checks, run through Django's check framework."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.checks import CheckMessage, run_checks
from django.test import override_settings
from moto import mock_aws
from storages.backends.s3 import S3Storage

from fallback_storage import checks, s3_guard

FALLBACK = "fallback_storage.storage.FallbackStorage"
READ_ONLY = "fallback_storage.storage.ReadOnlyStorage"
S3 = "storages.backends.s3.S3Storage"
FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def ours() -> list[CheckMessage]:
    return [m for m in run_checks(include_deployment_checks=False) if m.id and "fallback" in m.id]


def storages_with(default: dict[str, Any], **others: dict[str, Any]) -> dict[str, Any]:
    return {"default": default, **others}


def local(tmp_path: Path) -> dict[str, Any]:
    return {"BACKEND": FILE_SYSTEM, "OPTIONS": {"location": str(tmp_path)}}


def read_only(backend: Any) -> dict[str, Any]:
    return {"BACKEND": READ_ONLY, "OPTIONS": {"backend": backend}}


def fallback(*backends: Any) -> dict[str, Any]:
    return {"BACKEND": FALLBACK, "OPTIONS": {"backends": list(backends)}}


S3_PROD = {"BACKEND": S3, "OPTIONS": {"bucket_name": "prod-media"}}


def test_a_sound_configuration_passes(tmp_path: Path) -> None:
    with override_settings(
        DEBUG=True, STORAGES=storages_with(fallback(local(tmp_path), read_only(S3_PROD)))
    ):
        assert ours() == []


def test_e001_fallback_storage_without_a_writable_backend(tmp_path: Path) -> None:
    with override_settings(
        STORAGES=storages_with(fallback(read_only(local(tmp_path)), read_only(S3_PROD)))
    ):
        [message] = ours()
    assert message.id == "fallback_storage.E001"
    assert message.level == 40
    assert message.msg == (
        "settings.STORAGES['default'] is a FallbackStorage with no writable backend "
        "(ReadOnlyStorage, ReadOnlyStorage), so every save and delete fails."
    )
    assert message.hint == (
        "Add a writable backend before the read-only ones, e.g. a FileSystemStorage on a "
        "local directory."
    )


def test_e001_also_for_backends_read_from_fallback_storages(tmp_path: Path) -> None:
    with override_settings(
        STORAGES=storages_with({"BACKEND": FALLBACK}, prod=read_only(local(tmp_path))),
        FALLBACK_STORAGES=["prod"],
    ):
        assert [m.id for m in ours()] == ["fallback_storage.E001"]


def test_e002_an_entry_that_cannot_be_built_is_reported_by_the_check(tmp_path: Path) -> None:
    with override_settings(
        STORAGES=storages_with(
            fallback(local(tmp_path), "storages.backends.s3boto.S3BotoStorage"),
            broken={"BACKEND": READ_ONLY},
        )
    ):
        messages = ours()
    assert [m.id for m in messages] == ["fallback_storage.E002", "fallback_storage.E002"]
    assert messages[0].msg == (
        "settings.STORAGES['default'] cannot be built: FallbackStorage 'backends' entry "
        "'storages.backends.s3boto.S3BotoStorage' no longer exists in django-storages; use "
        "'storages.backends.s3.S3Storage' instead."
    )
    assert messages[1].msg.startswith(
        "settings.STORAGES['broken'] cannot be built: ReadOnlyStorage has no 'backend' option;"
    )
    assert messages[0].hint == (
        "Fix the entry the message names; without this check Django would raise it at the "
        "first request that uses the storage."
    )


def test_w001_unwrapped_s3_backend_while_debug(tmp_path: Path) -> None:
    nested = fallback(local(tmp_path), fallback(S3_PROD))
    with override_settings(DEBUG=True, STORAGES=storages_with(nested)):
        [message] = ours()
    assert message.id == "fallback_storage.W001"
    assert message.level == 30
    assert message.msg == (
        "settings.STORAGES['default'] backend 1 backend 0 is a writable S3 backend (S3Storage, "
        "bucket 'prod-media') in a FallbackStorage while DEBUG is on, so development can "
        "write to that bucket."
    )
    assert message.hint is not None and message.hint.startswith("Wrap it in ReadOnlyStorage: ")
    with override_settings(DEBUG=False, STORAGES=storages_with(nested)):
        assert ours() == []


@pytest.mark.skipif(django.VERSION < (5, 1), reason="Django 4.2 still reads DEFAULT_FILE_STORAGE")
def test_w002_w003_legacy_settings_on_a_django_that_ignores_them(tmp_path: Path) -> None:
    with override_settings(
        DEFAULT_FILE_STORAGE=FALLBACK,
        FALLBACK_STORAGES=[FILE_SYSTEM],
        STORAGES=storages_with(local(tmp_path)),
    ):
        w002, w003 = ours()
    assert (w002.id, w003.id) == ("fallback_storage.W002", "fallback_storage.W003")
    version = django.get_version()
    assert w002.msg == (
        f"settings.DEFAULT_FILE_STORAGE is {FALLBACK!r}, but Django {version} ignores it, so "
        f"the default storage is {FILE_SYSTEM!r}."
    )
    assert w002.hint == (
        f'Move it to STORAGES["default"] = {{"BACKEND": {FALLBACK!r}}} and delete '
        f"DEFAULT_FILE_STORAGE."
    )
    assert w003.msg == (
        f"settings.FALLBACK_STORAGES is {[FILE_SYSTEM]!r}, but no FallbackStorage in "
        f"settings.STORAGES reads it (Django {version} ignores DEFAULT_FILE_STORAGE)."
    )
    assert w003.hint == (
        'Set STORAGES["default"] = {"BACKEND": "fallback_storage.storage.FallbackStorage", '
        f'"OPTIONS": {{"backends": {[FILE_SYSTEM]!r}}}}} and delete FALLBACK_STORAGES.'
    )


@pytest.mark.skipif(django.VERSION < (5, 1), reason="Django 4.2 still reads DEFAULT_FILE_STORAGE")
def test_fallback_storages_read_by_a_storages_entry_is_not_legacy() -> None:
    with override_settings(
        FALLBACK_STORAGES=[FILE_SYSTEM], STORAGES=storages_with({"BACKEND": FALLBACK})
    ):
        assert ours() == []


def test_no_legacy_warning_on_a_django_that_reads_default_file_storage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks, "IGNORES_DEFAULT_FILE_STORAGE", False)
    with override_settings(FALLBACK_STORAGES=[FILE_SYSTEM]):
        assert checks.check_legacy_settings() == []


def test_w001_not_for_an_s3_backend_whose_client_guard_is_on(tmp_path: Path) -> None:
    protected = S3Storage(bucket_name="prod-media")
    s3_guard.protect(protected)
    with override_settings(
        DEBUG=True, STORAGES=storages_with(fallback(local(tmp_path), protected))
    ):
        assert ours() == []
