"""The system checks of fallback_storage.checks, run through Django's check framework."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.core.checks import CheckMessage, run_checks
from django.core.files.storage import FileSystemStorage, storages
from django.test import override_settings
from django.utils.functional import SimpleLazyObject
from moto import mock_aws
from storages.backends.s3 import S3Storage

from fallback_storage import checks, s3_guard
from fallback_storage.storage import FallbackStorage

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


# Protected for the rest of the test process by the tests that wrap it: a name no other test
# module writes to.
S3_PROD = {"BACKEND": S3, "OPTIONS": {"bucket_name": "checks-prod-media"}}


def writable_s3() -> dict[str, Any]:
    """An S3 entry on a bucket no test has protected (protection lasts for the process)."""
    return {"BACKEND": S3, "OPTIONS": {"bucket_name": f"w001-{uuid.uuid4().hex[:12]}"}}


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


def w001(where: str, bucket: str) -> str:
    return (
        f"{where} is a writable cloud backend (S3Storage(bucket_name={bucket!r})) in a "
        f"FallbackStorage while DEBUG is on, so development can write to it."
    )


def test_w001_unwrapped_s3_backend_while_debug(tmp_path: Path) -> None:
    s3 = writable_s3()
    nested = fallback(local(tmp_path), fallback(s3))
    with override_settings(DEBUG=True, STORAGES=storages_with(nested)):
        [message] = ours()
    assert message.id == "fallback_storage.W001"
    assert message.level == 30
    assert message.msg == w001(
        "settings.STORAGES['default'] backend 1 backend 0", s3["OPTIONS"]["bucket_name"]
    )
    assert message.hint is not None and message.hint.startswith("Wrap it in ReadOnlyStorage: ")
    with override_settings(DEBUG=False, STORAGES=storages_with(nested)):
        assert ours() == []


def test_w001_sees_through_lazy_objects(tmp_path: Path) -> None:
    bucket = writable_s3()["OPTIONS"]["bucket_name"]
    lazy = SimpleLazyObject(lambda: S3Storage(bucket_name=bucket))
    with override_settings(DEBUG=True, STORAGES=storages_with(fallback(local(tmp_path), lazy))):
        [message] = ours()
    assert message.msg == w001("settings.STORAGES['default'] backend 1", bucket)


def test_w001_is_silent_for_cloud_layers_a_read_only_storage_protects(tmp_path: Path) -> None:
    inner = fallback(local(tmp_path), writable_s3())
    lazy_bucket = writable_s3()["OPTIONS"]["bucket_name"]
    lazy = SimpleLazyObject(lambda: S3Storage(bucket_name=lazy_bucket))
    layers = fallback(local(tmp_path), read_only(inner), read_only(lazy))
    with override_settings(DEBUG=True, STORAGES=storages_with(layers, wrapped=read_only(inner))):
        assert ours() == []


def test_w001_warns_whatever_wraps_the_fallback_storage_when_protection_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    s3 = writable_s3()
    top = read_only(fallback(local(tmp_path), s3))
    with override_settings(DEBUG=True, STORAGES=storages_with(top)):
        assert ours() == []
        # Code that took the guard's hook off botocore: the bucket is writable again.
        hooked = BaseClient.__dict__["_emit_api_params"]
        monkeypatch.setattr(BaseClient, "_emit_api_params", hooked.__wrapped__)
        [message] = ours()
    assert message.msg == w001(
        "settings.STORAGES['default'] backend 0 backend 1", s3["OPTIONS"]["bucket_name"]
    )


IGNORES_LEGACY = pytest.mark.skipif(
    django.VERSION < (5, 1), reason="Django 4.2 still reads DEFAULT_FILE_STORAGE"
)


def hinted_default(hint: str) -> dict[str, Any]:
    """The STORAGES["default"] entry a hint of the form 'Set STORAGES["default"] = {...} and
    delete ...' gives, parsed as the Python literal a user would paste."""
    prefix = 'Set STORAGES["default"] = '
    assert hint.startswith(prefix), hint
    literal = hint[len(prefix) : hint.rindex(" and delete ")]
    value = ast.literal_eval(literal)
    assert isinstance(value, dict)
    return value


@IGNORES_LEGACY
def test_w002_w003_legacy_settings_on_a_django_that_ignores_them(tmp_path: Path) -> None:
    with override_settings(
        DEFAULT_FILE_STORAGE=FALLBACK,
        FALLBACK_STORAGES=[FILE_SYSTEM],
        STORAGES=storages_with({"BACKEND": FILE_SYSTEM}),
    ):
        w002, w003 = ours()
    assert (w002.id, w003.id) == ("fallback_storage.W002", "fallback_storage.W003")
    version = django.get_version()
    assert w002.msg == (
        f"settings.DEFAULT_FILE_STORAGE is {FALLBACK!r}, but Django {version} ignores it, so "
        f"the default storage is {FILE_SYSTEM!r}."
    )
    assert w002.hint == (
        f'Set STORAGES["default"] = {{"BACKEND": {FALLBACK!r}}} and delete DEFAULT_FILE_STORAGE.'
    )
    assert w003.msg == (
        f"settings.FALLBACK_STORAGES is {[FILE_SYSTEM]!r}, but no FallbackStorage in "
        f"settings.STORAGES reads it (Django {version} ignores DEFAULT_FILE_STORAGE)."
    )
    replacement = {"BACKEND": FALLBACK, "OPTIONS": {"backends": [FILE_SYSTEM]}}
    assert w003.hint == (f'Set STORAGES["default"] = {replacement!r} and delete FALLBACK_STORAGES.')


@IGNORES_LEGACY
def test_w002_hint_keeps_the_options_of_the_default_storage(tmp_path: Path) -> None:
    with override_settings(DEFAULT_FILE_STORAGE=FALLBACK, STORAGES=storages_with(local(tmp_path))):
        [w002] = ours()
    assert w002.hint == (
        f"Delete DEFAULT_FILE_STORAGE to keep {FILE_SYSTEM!r}, or set "
        f'STORAGES["default"]["BACKEND"] = {FALLBACK!r} and adapt its OPTIONS '
        f"{ {'location': str(tmp_path)}!r} to that class."
    )


@IGNORES_LEGACY
def test_w002_hint_for_a_leftover_that_names_the_default_backend_says_delete_it(
    tmp_path: Path,
) -> None:
    half_migrated = fallback(local(tmp_path), read_only(S3_PROD))
    with override_settings(DEFAULT_FILE_STORAGE=FALLBACK, STORAGES=storages_with(half_migrated)):
        [w002] = ours()
    assert w002.hint == (
        f'Delete DEFAULT_FILE_STORAGE: STORAGES["default"] already uses {FALLBACK!r}.'
    )


@IGNORES_LEGACY
def test_w003_hint_never_replaces_the_backends_of_a_fallback_storage(tmp_path: Path) -> None:
    # Half-migrated: STORAGES has the read-only production layer, the 1.x list a raw S3Storage.
    half_migrated = fallback(local(tmp_path), read_only(S3_PROD))
    with override_settings(
        FALLBACK_STORAGES=[FILE_SYSTEM, S3], STORAGES=storages_with(half_migrated)
    ):
        [w003] = ours()
    assert w003.id == "fallback_storage.W003"
    assert w003.hint == (
        "Delete FALLBACK_STORAGES: settings.STORAGES['default'] already lists the backends of "
        "its FallbackStorage."
    )


@IGNORES_LEGACY
def test_w003_hint_keeps_the_options_of_the_default_storage(tmp_path: Path) -> None:
    with override_settings(
        FALLBACK_STORAGES=[FILE_SYSTEM, S3], STORAGES=storages_with(local(tmp_path))
    ):
        [w003] = ours()
    assert w003.hint is not None
    suggested = hinted_default(w003.hint)
    assert suggested == fallback(local(tmp_path), S3)
    # Following the hint gives a storage whose local layer is still on tmp_path.
    with override_settings(STORAGES={"default": {"BACKEND": FILE_SYSTEM}, "media": suggested}):
        built = storages["media"]
        assert isinstance(built, FallbackStorage)
        layers = built.backends
    assert [type(layer).__name__ for layer in layers] == ["FileSystemStorage", "S3Storage"]
    assert isinstance(layers[0], FileSystemStorage)
    assert layers[0].location == str(tmp_path)


@IGNORES_LEGACY
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
    protected = S3Storage(bucket_name=writable_s3()["OPTIONS"]["bucket_name"])
    s3_guard.protect(protected)
    with override_settings(
        DEBUG=True, STORAGES=storages_with(fallback(local(tmp_path), protected))
    ):
        assert ours() == []


def test_e002_not_a_crash_when_django_cleanup_builds_the_default_storage_at_startup() -> None:
    tests = Path(__file__).parent
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "cleanup_settings"}
    environment["PYTHONPATH"] = os.pathsep.join([str(tests), *sys.path])
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tests,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1
    assert (
        "fallback_storage.E002) settings.STORAGES['default'] cannot be built: FallbackStorage "
        "got unknown options ['white_outs']" in result.stderr
    )


def test_e002_also_for_an_http_storage_that_cannot_be_built(tmp_path: Path) -> None:
    with override_settings(
        STORAGES=storages_with(
            fallback(local(tmp_path), "origin"),
            origin={"BACKEND": "fallback_storage.http.HTTPStorage", "OPTIONS": {}},
        )
    ):
        messages = ours()
    assert [m.id for m in messages] == ["fallback_storage.E002", "fallback_storage.E002"]
    assert messages[1].msg == (
        "settings.STORAGES['origin'] cannot be built: HTTPStorage has no 'base_url' option; set "
        "it to the URL the files are served under, e.g. 'https://media.example.com/'."
    )
