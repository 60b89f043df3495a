"""``manage.py fallback_storage``: layers, which, ls, whiteouts, on disk and a moto bucket.

The storages under test are not the "default" alias: on Django 4.2,
override_settings(STORAGES=...) mirrors STORAGES["default"]["BACKEND"] into
DEFAULT_FILE_STORAGE, and the storage handler then rebuilds "default" from that
alone, dropping its OPTIONS.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.management import CommandError, call_command
from django.test import override_settings
from moto import mock_aws

from fallback_storage.storage import FallbackStorage
from fallback_storage.testing import seeding

FALLBACK = "fallback_storage.storage.FallbackStorage"
FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"


def run(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command("fallback_storage", *args, stdout=out, **options)
    return out.getvalue()


def fallback(*backends: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"BACKEND": FALLBACK, "OPTIONS": {"backends": list(backends), **options}}


def on_disk(path: Path) -> dict[str, Any]:
    return {"BACKEND": FILE_SYSTEM, "OPTIONS": {"location": str(path)}}


PROD = {
    "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
    "OPTIONS": {
        "backend": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "command-media"},
        }
    },
}


def configured(alias: str) -> FallbackStorage:
    storage = storages[alias]
    assert isinstance(storage, FallbackStorage)
    return storage


def read(storage: Storage, name: str) -> bytes:
    with storage.open(name) as handle:
        content: bytes = handle.read()
    return content


@pytest.fixture
def layered(tmp_path: Path) -> Iterator[Path]:
    """media = [local disk, disk with some files, read-only S3 'command-media' on moto], with
    whiteouts turned off (the 1.x rule).

    "overlay" is the same stack with whiteouts on (their default there), and
    "read_only_first" puts the shared disk, read-only, before the local one, with whiteouts on.
    """
    local, shared = tmp_path / "local", tmp_path / "shared"
    (local / "docs").mkdir(parents=True)
    (shared / "docs").mkdir(parents=True)
    (local / "docs" / "a.txt").write_text("local a")
    (shared / "docs" / "a.txt").write_text("shared a")
    (shared / "docs" / "b.txt").write_text("shared b")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        # The read-only PROD layer protects the bucket for the rest of the test process (a name
        # of this module's own, so no other module's bucket is): seed it as a fixture may.
        with seeding("command-media"):
            s3.create_bucket(Bucket="command-media")
            for key in ("docs/a.txt", "docs/c.txt", "docs/old/d.txt", "top.txt"):
                s3.put_object(Bucket="command-media", Key=key, Body=b"prod")
        stack = (on_disk(local), on_disk(shared), PROD)
        shared_read_only = {
            "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
            "OPTIONS": {"backend": on_disk(shared)},
        }
        with override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
                "media": fallback(*stack, whiteouts=False),
                "overlay": fallback(*stack, whiteouts=True),
                "read_only_first": fallback(shared_read_only, on_disk(local), whiteouts=True),
                # Another bucket: command-media is protected (for the process) by PROD above.
                "plain_s3": {
                    "BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": {"bucket_name": "plain-media"},
                },
                "broken": {"BACKEND": FALLBACK, "OPTIONS": {"backends": ["nowhere"]}},
            }
        ):
            yield tmp_path


def test_storage_is_the_default_alias_unless_given(tmp_path: Path) -> None:
    # BACKEND only, the backends from the 1.x setting: Django 4.2 keeps that for "default".
    with override_settings(
        STORAGES={"default": {"BACKEND": FALLBACK}}, FALLBACK_STORAGES=[on_disk(tmp_path)]
    ):
        assert run("layers").splitlines() == [
            "LAYER  CLASS              ACCESS    S3_GUARD  LOCATION",
            f"0      FileSystemStorage  writable  -         {tmp_path}",
        ]


def test_layers_as_columns(layered: Path) -> None:
    assert run("layers", "--storage", "media").splitlines() == [
        "LAYER  CLASS                       ACCESS     S3_GUARD  LOCATION",
        f"0      FileSystemStorage           writable   -         {layered / 'local'}",
        f"1      FileSystemStorage           writable   -         {layered / 'shared'}",
        "2      ReadOnlyStorage(S3Storage)  read-only  on        s3://command-media/",
    ]


def test_layers_as_json_shows_an_unguarded_s3_storage(layered: Path) -> None:
    assert json.loads(run("layers", "--storage", "plain_s3", "--json")) == [
        {
            "layer": 0,
            "class": "S3Storage",
            "access": "writable",
            "s3_guard": "off",
            "location": "s3://plain-media/",
        }
    ]


def test_which_names_the_serving_layer_and_the_shadowed_copies(layered: Path) -> None:
    assert run("which", "docs/a.txt", storage="media").splitlines() == [
        "NAME        LAYER  CLASS              ACCESS    LOCATION"
        + " " * (len(str(layered / "local")) - len("LOCATION"))
        + "  SHADOWED_IN",
        f"docs/a.txt  0      FileSystemStorage  writable  {layered / 'local'}  1,2",
    ]
    result = json.loads(run("which", "docs/c.txt", storage="media", json=True))
    assert result["layer"]["layer"] == 2
    assert result["layer"]["class"] == "ReadOnlyStorage(S3Storage)"
    assert (result["shadowed_in"], result["hidden_in"]) == ([], [])


def test_which_exits_1_when_no_layer_has_the_file(layered: Path) -> None:
    out = StringIO()
    with pytest.raises(
        CommandError, match=r"^No layer of storage 'media' has 'nope.txt'\.$"
    ) as caught:
        call_command(
            "fallback_storage", "which", "nope.txt", "--storage=media", "--json", stdout=out
        )
    assert caught.value.returncode == 1
    assert json.loads(out.getvalue()) == {
        "name": "nope.txt",
        "layer": None,
        "shadowed_in": [],
        "hidden_in": [],
    }


def test_ls_merges_the_layers_and_shows_shadowed_entries(layered: Path) -> None:
    assert run("ls", "docs", storage="media").splitlines() == [
        "TYPE  NAME   LAYER  SHADOWED_IN",
        "file  a.txt  0      1,2",
        "file  b.txt  1      -",
        "file  c.txt  2      -",
        "dir   old    2      -",
    ]
    assert json.loads(run("ls", storage="media", json=True)) == [
        {"type": "dir", "name": "docs", "layer": 0, "shadowed_in": [1, 2], "hidden_in": []},
        {"type": "file", "name": "top.txt", "layer": 2, "shadowed_in": [], "hidden_in": []},
    ]


def test_ls_exits_1_for_a_directory_no_layer_has(layered: Path) -> None:
    with pytest.raises(
        CommandError, match=r"^No layer of storage 'media' lists anything under 'missing'\.$"
    ) as caught:
        run("ls", "missing", storage="media")
    assert caught.value.returncode == 1


def test_ls_of_a_file_lists_that_file_with_its_layers(layered: Path) -> None:
    # docs/a.txt is a file on both disks and in the bucket; top.txt only in the bucket. No
    # CommandError: the exit code is 0.
    assert run("ls", "docs/a.txt", storage="media").splitlines() == [
        "TYPE  NAME        LAYER  SHADOWED_IN",
        "file  docs/a.txt  0      1,2",
    ]
    assert json.loads(run("ls", "top.txt", storage="media", json=True)) == [
        {"type": "file", "name": "top.txt", "layer": 2, "shadowed_in": [], "hidden_in": []},
    ]


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


# -- whiteouts ----------------------------------------------------------------------------------


def test_which_and_ls_report_hidden_copies_as_hidden(layered: Path) -> None:
    overlay = configured("overlay")
    overlay.delete("docs/a.txt")  # local's copy goes; shared's and prod's are hidden
    overlay.delete("docs/c.txt")  # only prod has it
    overlay.delete("docs/old")  # a directory only prod has
    assert not overlay.exists("docs/c.txt")

    out = StringIO()
    with pytest.raises(
        CommandError,
        match=r"^No layer of storage 'overlay' serves 'docs/a.txt': the whiteout of 'docs/a.txt' "
        r"hides it in layer\(s\) 1,2; run 'manage.py fallback_storage whiteouts --storage "
        r"overlay --clear docs/a.txt' to show it again\.$",
    ) as caught:
        call_command(
            "fallback_storage", "which", "docs/a.txt", "--storage=overlay", "--json", stdout=out
        )
    assert caught.value.returncode == 1
    assert json.loads(out.getvalue()) == {
        "name": "docs/a.txt",
        "layer": None,
        "shadowed_in": [],
        "hidden_in": [1, 2],
    }
    with pytest.raises(CommandError, match=r"the whiteout of 'docs/old' hides it in layer\(s\) 2;"):
        run("which", "docs/old/d.txt", storage="overlay")

    # No marker file is listed; what the storage no longer serves is listed as hidden.
    assert run("ls", "docs", storage="overlay").splitlines() == [
        "TYPE  NAME   LAYER  SHADOWED_IN  HIDDEN_IN",
        "file  a.txt  -      -            1,2",
        "file  b.txt  1      -            -",
        "file  c.txt  -      -            2",
        "dir   old    -      -            2",
    ]
    assert overlay.listdir("docs") == ([], ["b.txt"])

    # Saved again, the name is served by the writable layer and shadows the others again.
    overlay.save("docs/a.txt", ContentFile(b"new a"))
    assert (
        json.loads(run("which", "docs/a.txt", storage="overlay", json=True))["layer"]["layer"] == 0
    )
    assert json.loads(run("ls", "docs", storage="overlay", json=True))[0] == {
        "type": "file",
        "name": "a.txt",
        "layer": 0,
        "shadowed_in": [1, 2],
        "hidden_in": [],
    }


def test_a_directory_whiteout_hides_lower_copies_of_files_saved_under_it(layered: Path) -> None:
    overlay = configured("overlay")
    overlay.delete("docs")
    overlay.save("docs/b.txt", ContentFile(b"new b"))  # the whiteout of "docs" stays
    assert read(overlay, "docs/b.txt") == b"new b"
    assert run("which", "docs/b.txt", storage="overlay").splitlines()[1].split() == [
        "docs/b.txt",
        "0",
        "FileSystemStorage",
        "writable",
        str(layered / "local"),
        "-",
        "1",
    ]
    assert run("ls", "docs", storage="overlay").splitlines() == [
        "TYPE  NAME   LAYER  SHADOWED_IN  HIDDEN_IN",
        "file  a.txt  -      -            1,2",
        "file  b.txt  0      -            1",
        "file  c.txt  -      -            2",
        "dir   old    -      -            2",
    ]
    with pytest.raises(CommandError, match=r"whiteouts hide every entry") as caught:
        run("ls", "docs/old", storage="overlay")
    assert caught.value.returncode == 1


def test_which_when_a_read_only_layer_comes_before_the_writable_one(layered: Path) -> None:
    # Layer 0 is read-only, so the whiteouts and the writes go to layer 1, and a hidden name
    # that layer 1 has is served by layer 1, not by the first layer that has it.
    storage = configured("read_only_first")
    storage.delete("docs")
    storage.save("docs/b.txt", ContentFile(b"local b"))
    assert read(storage, "docs/b.txt") == b"local b"
    result = json.loads(run("which", "docs/b.txt", storage="read_only_first", json=True))
    assert (result["layer"]["layer"], result["shadowed_in"], result["hidden_in"]) == (1, [], [0])


def test_whiteouts_lists_and_clears(layered: Path) -> None:
    overlay = configured("overlay")
    for name in ("docs/a.txt", "docs/c.txt", "docs/old", "top.txt"):
        overlay.delete(name)
    assert run("whiteouts", storage="overlay").splitlines() == [
        "WHITEOUT",
        "docs/a.txt",
        "docs/c.txt",
        "docs/old",
        "top.txt",
    ]
    assert json.loads(run("whiteouts", "docs/old", storage="overlay", json=True)) == []
    assert json.loads(run("whiteouts", "docs", storage="overlay", json=True)) == [
        "docs/a.txt",
        "docs/c.txt",
        "docs/old",
    ]
    cleared = run("whiteouts", "--clear", "docs/c.txt", "nope", storage="overlay", json=True)
    assert json.loads(cleared) == ["docs/c.txt"]
    assert read(overlay, "docs/c.txt") == b"prod"
    # --clear without names clears what is under PATH, and only that.
    assert run("whiteouts", "docs", "--clear", storage="overlay").splitlines() == [
        "CLEARED",
        "docs/a.txt",
        "docs/old",
    ]
    assert overlay.list_whiteouts() == ["top.txt"]
    assert (
        json.loads(run("which", "docs/old/d.txt", storage="overlay", json=True))["layer"]["layer"]
        == 2
    )
    assert run("whiteouts", "--clear", storage="overlay").splitlines() == ["CLEARED", "top.txt"]
    assert json.loads(run("whiteouts", storage="overlay", json=True)) == []
    assert overlay.exists("top.txt")


def test_whiteouts_explains_when_the_storage_has_none(layered: Path) -> None:
    with pytest.raises(
        CommandError,
        match=r"^Storage 'plain_s3' \(S3Storage\) has no whiteouts; only a FallbackStorage has "
        r"them, so pass --storage with the alias of one\.$",
    ) as caught:
        run("whiteouts", storage="plain_s3")
    assert caught.value.returncode == 2


def test_whiteouts_off_is_explained(layered: Path) -> None:
    with pytest.raises(
        CommandError,
        match=r"^Whiteouts are off for storage 'media', so deleting a file that only a lower "
        r"layer has does nothing \(the 1\.x behaviour\) and leaves no whiteout; set "
        r"STORAGES\['media'\]\[\"OPTIONS\"\]\[\"whiteouts\"\] = True to hide such files "
        r"instead\.$",
    ) as caught:
        run("whiteouts", storage="media")
    assert caught.value.returncode == 2
    # What the message says: the delete is a no-op, not a refusal.
    media = configured("media")
    media.delete("docs/c.txt")
    assert read(media, "docs/c.txt") == b"prod"


def test_which_reports_the_other_layers_when_one_cannot_be_reached(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every request is refused at once
    origin = {
        "BACKEND": "fallback_storage.http.HTTPStorage",
        "OPTIONS": {"base_url": f"http://127.0.0.1:{port}/media/", "retries": 0},
    }
    (tmp_path / "local" / "docs").mkdir(parents=True)
    (tmp_path / "local" / "docs" / "a.txt").write_bytes(b"local")
    with override_settings(STORAGES={"media": fallback(on_disk(tmp_path / "local"), origin)}):
        out, err = StringIO(), StringIO()
        call_command(
            "fallback_storage", "which", "docs/a.txt", "--storage=media", "--json",
            stdout=out, stderr=err,
        )  # fmt: skip
    assert json.loads(out.getvalue())["layer"]["layer"] == 0
    assert err.getvalue().startswith(
        "Layer 1 (HTTPStorage) could not be asked about 'docs/a.txt', so it is left out: "
    )
