"""``manage.py fallback_storage``: layers, which, ls, whiteouts, on disk and a moto bucket."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from moto import mock_aws

from fallback_storage.storage import FallbackStorage

FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"


def run(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command("fallback_storage", *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def layered(tmp_path: Path) -> Iterator[Path]:
    """default = [local disk, disk with some files, read-only S3 'prod-media' on moto]."""
    local, shared = tmp_path / "local", tmp_path / "shared"
    (local / "docs").mkdir(parents=True)
    (shared / "docs").mkdir(parents=True)
    (local / "docs" / "a.txt").write_text("local a")
    (shared / "docs" / "a.txt").write_text("shared a")
    (shared / "docs" / "b.txt").write_text("shared b")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="prod-media")
        for key in ("docs/a.txt", "docs/c.txt", "docs/old/d.txt", "top.txt"):
            s3.put_object(Bucket="prod-media", Key=key, Body=b"prod")
        with override_settings(
            STORAGES={
                "default": {
                    "BACKEND": "fallback_storage.storage.FallbackStorage",
                    "OPTIONS": {
                        "backends": [
                            {"BACKEND": FILE_SYSTEM, "OPTIONS": {"location": str(local)}},
                            {"BACKEND": FILE_SYSTEM, "OPTIONS": {"location": str(shared)}},
                            {
                                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                                "OPTIONS": {
                                    "backend": {
                                        "BACKEND": "storages.backends.s3.S3Storage",
                                        "OPTIONS": {"bucket_name": "prod-media"},
                                    }
                                },
                            },
                        ]
                    },
                },
                "plain_s3": {
                    "BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": {"bucket_name": "prod-media"},
                },
                "broken": {
                    "BACKEND": "fallback_storage.storage.FallbackStorage",
                    "OPTIONS": {"backends": ["nowhere"]},
                },
            }
        ):
            yield tmp_path


def test_layers_as_columns(layered: Path) -> None:
    assert run("layers").splitlines() == [
        "LAYER  CLASS                       ACCESS     S3_GUARD  LOCATION",
        f"0      FileSystemStorage           writable   -         {layered / 'local'}",
        f"1      FileSystemStorage           writable   -         {layered / 'shared'}",
        "2      ReadOnlyStorage(S3Storage)  read-only  on        s3://prod-media/",
    ]


def test_layers_as_json_shows_an_unguarded_s3_storage(layered: Path) -> None:
    assert json.loads(run("layers", "--storage", "plain_s3", "--json")) == [
        {
            "layer": 0,
            "class": "S3Storage",
            "access": "writable",
            "s3_guard": "off",
            "location": "s3://prod-media/",
        }
    ]


def test_which_names_the_serving_layer_and_the_shadowed_copies(layered: Path) -> None:
    assert run("which", "docs/a.txt").splitlines() == [
        "NAME        LAYER  CLASS              ACCESS    LOCATION"
        + " " * (len(str(layered / "local")) - len("LOCATION"))
        + "  SHADOWED_IN",
        f"docs/a.txt  0      FileSystemStorage  writable  {layered / 'local'}  1,2",
    ]
    result = json.loads(run("which", "docs/c.txt", json=True))
    assert result["layer"]["layer"] == 2
    assert result["layer"]["class"] == "ReadOnlyStorage(S3Storage)"
    assert result["shadowed_in"] == []


def test_which_exits_1_when_no_layer_has_the_file(layered: Path) -> None:
    out = StringIO()
    with pytest.raises(
        CommandError, match=r"^No layer of storage 'default' has 'nope.txt'\.$"
    ) as caught:
        call_command("fallback_storage", "which", "nope.txt", "--json", stdout=out)
    assert caught.value.returncode == 1
    assert json.loads(out.getvalue()) == {"name": "nope.txt", "layer": None, "shadowed_in": []}


def test_ls_merges_the_layers_and_shows_shadowed_entries(layered: Path) -> None:
    assert run("ls", "docs").splitlines() == [
        "TYPE  NAME   LAYER  SHADOWED_IN",
        "file  a.txt  0      1,2",
        "file  b.txt  1      -",
        "file  c.txt  2      -",
        "dir   old    2      -",
    ]
    assert json.loads(run("ls", json=True)) == [
        {"type": "dir", "name": "docs", "layer": 0, "shadowed_in": [1, 2]},
        {"type": "file", "name": "top.txt", "layer": 2, "shadowed_in": []},
    ]


def test_ls_exits_1_for_a_directory_no_layer_has(layered: Path) -> None:
    with pytest.raises(
        CommandError, match=r"^No layer of storage 'default' lists anything under 'missing'\.$"
    ) as caught:
        run("ls", "missing")
    assert caught.value.returncode == 1


def test_configuration_errors_exit_2(layered: Path) -> None:
    with pytest.raises(
        CommandError,
        match=r"^Storage 'broken' cannot be used: FallbackStorage 'backends' entry 'nowhere' ",
    ) as caught:
        run("layers", storage="broken")
    assert caught.value.returncode == 2
    with pytest.raises(CommandError, match=r"^Storage 'nope' cannot be used: ") as caught:
        run("layers", storage="nope")
    assert caught.value.returncode == 2


def test_whiteouts_explains_when_the_storage_has_none(layered: Path) -> None:
    with pytest.raises(
        CommandError, match=r"^Storage 'plain_s3' \(S3Storage\) has no whiteouts;"
    ) as caught:
        run("whiteouts", storage="plain_s3")
    assert caught.value.returncode == 2


class WhiteoutStorage(FallbackStorage):
    """The whiteout methods agreed for FallbackStorage (issue 9), over an in-memory set."""

    whiteouts = True

    def __init__(self, backends: Any = None, **options: Any) -> None:
        super().__init__(backends, **options)
        self.hidden = {"docs/a.txt", "docs/b.txt", "top.txt"}

    def list_whiteouts(self, path: str = "") -> list[str]:
        return sorted(name for name in self.hidden if name.startswith(path))

    def clear_whiteouts(self, names: Iterable[str] | None = None) -> list[str]:
        cleared = sorted(self.hidden if names is None else self.hidden & set(names))
        self.hidden -= set(cleared)
        return cleared


class WhiteoutsOffStorage(WhiteoutStorage):
    whiteouts = False


@pytest.fixture
def with_whiteouts(tmp_path: Path) -> Iterator[None]:
    backends = [{"BACKEND": FILE_SYSTEM, "OPTIONS": {"location": str(tmp_path)}}]
    here = f"{__name__}"
    with override_settings(
        STORAGES={
            "default": {"BACKEND": f"{here}.WhiteoutStorage", "OPTIONS": {"backends": backends}},
            "off": {"BACKEND": f"{here}.WhiteoutsOffStorage", "OPTIONS": {"backends": backends}},
        }
    ):
        yield


def test_whiteouts_lists_and_clears(with_whiteouts: None) -> None:
    assert run("whiteouts", "docs").splitlines() == ["WHITEOUT", "docs/a.txt", "docs/b.txt"]
    assert json.loads(run("whiteouts", "--clear", "docs/b.txt", "nope", "--json")) == ["docs/b.txt"]
    assert run("whiteouts", "--clear").splitlines() == ["CLEARED", "docs/a.txt", "top.txt"]
    assert json.loads(run("whiteouts", json=True)) == []


def test_whiteouts_off_is_explained(with_whiteouts: None) -> None:
    with pytest.raises(
        CommandError,
        match=r"^Whiteouts are off for storage 'off', so a delete of a file a lower layer has "
        r"is refused instead of hidden; set STORAGES\['off'\]\[\"OPTIONS\"\]\[\"whiteouts\"\] "
        r"= True to turn them on\.$",
    ) as caught:
        run("whiteouts", storage="off")
    assert caught.value.returncode == 2
