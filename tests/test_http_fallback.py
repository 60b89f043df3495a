"""FallbackStorage([local FileSystemStorage, HTTPStorage]) end to end, with what each call costs.

The origin is nginx on 127.0.0.1 (or, for the "CDN in front of S3" case, a
moto bucket of public-read objects read over plain HTTP); every request count
is read at the server. Also: the overlay options and the location cache with
an HTTP layer, the management command and the system checks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from counting_s3 import CountingS3Server
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.test import override_settings
from http_media import BIG_SIZE, FILES, QUOTED, running_nginx
from nginx import Nginx

from fallback_storage.exceptions import OriginForbiddenError, ReadOnlyStorageError
from fallback_storage.http import HTTPStorage
from fallback_storage.storage import FallbackStorage

LOCAL_FILES = {"local.txt": b"only here", "hello.txt": b"the local copy"}
HTTP = "fallback_storage.http.HTTPStorage"


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with running_nginx(tmp_path_factory.mktemp("origin")) as server:
        yield server
        methods = {request.method for request in server.requests()}
    assert methods <= {"GET", "HEAD"}, f"nginx received {methods}"


@pytest.fixture
def local_media(tmp_path: Path) -> Path:
    path = tmp_path / "local-media"
    path.mkdir()
    for name, content in LOCAL_FILES.items():
        (path / name).write_bytes(content)
    return path


Build = Callable[..., FallbackStorage]


@pytest.fixture
def layered(origin: Nginx, local_media: Path) -> Iterator[Build]:
    """Build FallbackStorage([local, HTTPStorage(nginx)]) with the options given."""
    built: list[HTTPStorage] = []

    def build(**options: Any) -> FallbackStorage:
        production = HTTPStorage(base_url=f"{origin.url}media/")
        built.append(production)
        local = FileSystemStorage(location=str(local_media), base_url="/media/")
        return FallbackStorage(backends=[local, production], **options)

    yield build
    for production in built:
        production.close()


def costs(origin: Nginx, call: Callable[[], object]) -> tuple[object, list[tuple[str, str, int]]]:
    """What ``call`` returned and the requests it sent to the origin."""
    mark = origin.mark()
    result = call()
    return result, [(r.method, r.uri, r.status) for r in origin.requests(mark)]


def read(storage: FallbackStorage, name: str) -> bytes:
    with storage.open(name) as handle:
        content: bytes = handle.read()
    return content


def test_reads_fall_through_and_what_each_call_costs(
    origin: Nginx, layered: Build, local_media: Path
) -> None:
    storage = layered()
    png = "/media/photos/sunset.png"
    assert costs(origin, lambda: storage.exists("local.txt")) == (True, [])
    assert costs(origin, lambda: storage.exists("photos/sunset.png")) == (
        True,
        [("HEAD", png, 200)],
    )
    assert costs(origin, lambda: storage.exists("missing.txt")) == (
        False,
        [("HEAD", "/media/missing.txt", 404)],
    )
    assert costs(origin, lambda: read(storage, "hello.txt")) == (b"the local copy", [])
    assert costs(origin, lambda: read(storage, "photos/sunset.png")) == (
        FILES["photos/sunset.png"],
        [("GET", png, 200)],
    )
    assert costs(origin, lambda: storage.size("big.bin")) == (
        BIG_SIZE,
        [("HEAD", "/media/big.bin", 200)],
    )
    name = "unicodé 写真.txt"
    assert costs(origin, lambda: read(storage, name)) == (
        FILES[name],
        [("GET", f"/media/{QUOTED[name]}", 200)],
    )
    # The browser loads production files straight from the origin; the site asks nothing.
    assert costs(origin, lambda: storage.url("photos/sunset.png")) == (
        f"{origin.url}media/photos/sunset.png",
        [],
    )
    assert costs(origin, lambda: storage.url("local.txt")) == ("/media/local.txt", [])
    with pytest.raises(FileNotFoundError):
        storage.open("missing.txt")


def test_save_of_a_new_name_costs_one_head_and_writes_locally(
    origin: Nginx, layered: Build, local_media: Path
) -> None:
    storage = layered()
    saved, requests = costs(origin, lambda: storage.save("uploads/new.txt", ContentFile(b"new")))
    assert saved == "uploads/new.txt"
    assert requests == [("HEAD", "/media/uploads/new.txt", 404)]
    assert (local_media / "uploads" / "new.txt").read_bytes() == b"new"
    assert not (origin.media / "uploads").exists()


def test_save_of_a_production_name_picks_another_name(
    origin: Nginx, layered: Build, local_media: Path
) -> None:
    storage = layered()
    saved, requests = costs(origin, lambda: storage.save("photos/sunset.png", ContentFile(b"x")))
    assert isinstance(saved, str) and saved != "photos/sunset.png"
    assert saved.startswith("photos/sunset_") and saved.endswith(".png")
    assert requests == [
        ("HEAD", "/media/photos/sunset.png", 200),
        ("HEAD", f"/media/{saved}", 404),
    ]
    assert (origin.media / "photos" / "sunset.png").read_bytes() == FILES["photos/sunset.png"]


def test_listdir_lists_the_local_layer_and_asks_the_origin_nothing(
    origin: Nginx, layered: Build
) -> None:
    storage = layered()
    listing, requests = costs(origin, lambda: storage.listdir(""))
    assert isinstance(listing, tuple)
    directories, files = listing
    assert (directories, sorted(files), requests) == ([], sorted(LOCAL_FILES), [])


def test_delete_and_write_modes_never_reach_the_origin(origin: Nginx, layered: Build) -> None:
    storage = layered()
    mark = origin.mark()
    # Below a read-only layer a delete hides the file: one HEAD asks whether the origin has it.
    storage.delete("photos/sunset.png")
    assert [(r.method, r.uri) for r in origin.requests(mark)] == [
        ("HEAD", "/media/photos/sunset.png")
    ]
    assert not storage.exists("photos/sunset.png")
    mark = origin.mark()
    with storage.open("new.txt", "wb") as handle:
        handle.write(b"written locally")
    assert origin.requests(mark) == []
    assert read(storage, "new.txt") == b"written locally"
    production = storage.backends[1]
    with pytest.raises(ReadOnlyStorageError):
        production.save("direct.txt", ContentFile(b"x"))


def test_copy_on_read_fetches_once_then_serves_locally(
    origin: Nginx, layered: Build, local_media: Path
) -> None:
    storage = layered(copy_on_read=True)
    png = "/media/photos/sunset.png"
    assert costs(origin, lambda: read(storage, "photos/sunset.png")) == (
        FILES["photos/sunset.png"],
        [("GET", png, 200)],
    )
    assert (local_media / "photos" / "sunset.png").read_bytes() == FILES["photos/sunset.png"]
    assert costs(origin, lambda: read(storage, "photos/sunset.png")) == (
        FILES["photos/sunset.png"],
        [],
    )
    assert costs(origin, lambda: storage.exists("photos/sunset.png")) == (True, [])
    assert costs(origin, lambda: storage.url("photos/sunset.png")) == (
        "/media/photos/sunset.png",
        [],
    )


def test_whiteouts_hide_a_production_file_without_asking_again(
    origin: Nginx, layered: Build, local_media: Path
) -> None:
    storage = layered(whiteouts=True)
    _, requests = costs(origin, lambda: storage.delete("photos/sunset.png"))
    assert requests == [("HEAD", "/media/photos/sunset.png", 200)]  # does production have it?
    assert storage.list_whiteouts() == ["photos/sunset.png"]
    assert costs(origin, lambda: storage.exists("photos/sunset.png")) == (False, [])
    with pytest.raises(FileNotFoundError):
        storage.open("photos/sunset.png")
    assert costs(origin, lambda: storage.exists("hello.txt")) == (True, [])
    # Saving the name again brings it back, as the local file.
    storage.save("photos/sunset.png", ContentFile(b"mine"))
    assert costs(origin, lambda: read(storage, "photos/sunset.png")) == (b"mine", [])
    assert storage.list_whiteouts() == []
    assert (origin.media / "photos" / "sunset.png").read_bytes() == FILES["photos/sunset.png"]


def test_the_location_cache_remembers_answers_from_the_origin(
    origin: Nginx, layered: Build
) -> None:
    storage = layered(cache_timeout=60)
    png = "/media/photos/sunset.png"
    assert costs(origin, lambda: storage.exists("photos/sunset.png")) == (
        True,
        [("HEAD", png, 200)],
    )
    assert costs(origin, lambda: storage.exists("photos/sunset.png")) == (True, [])
    assert costs(origin, lambda: storage.exists("missing.txt")) == (
        False,
        [("HEAD", "/media/missing.txt", 404)],
    )
    assert costs(origin, lambda: storage.exists("missing.txt")) == (False, [])
    assert costs(origin, lambda: storage.url("photos/sunset.png")) == (
        f"{origin.url}media/photos/sunset.png",
        [],
    )
    assert costs(origin, lambda: read(storage, "photos/sunset.png")) == (
        FILES["photos/sunset.png"],
        [("GET", png, 200)],
    )


# -- the "CDN in front of S3" case ------------------------------------------------------


class SignatureRecordingS3(CountingS3Server):
    """The counting moto server, also recording whether each request carried credentials."""

    def __init__(self) -> None:
        super().__init__()
        self.signed: list[bool] = []

    def _app(self) -> Any:
        counting = super()._app()

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            query = environ.get("QUERY_STRING", "")
            with self._lock:
                self.signed.append("HTTP_AUTHORIZATION" in environ or "X-Amz-" in query)
            return counting(environ, start_response)

        return app


@pytest.fixture(scope="module")
def public_bucket() -> Iterator[tuple[SignatureRecordingS3, str, Any]]:
    server = SignatureRecordingS3()
    server.start()
    bucket = f"public-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    for name in ("photos/sunset.png", *QUOTED):
        client.put_object(Bucket=bucket, Key=name, Body=FILES[name], ACL="public-read")
    client.put_object(Bucket=bucket, Key="private.txt", Body=b"not for you")
    yield server, bucket, client
    client.close()
    server.stop()


def _objects(client: Any, bucket: str) -> dict[str, tuple[str, int]]:
    listing = client.list_objects_v2(Bucket=bucket)["Contents"]
    return {item["Key"]: (item["ETag"], item["Size"]) for item in listing}


def test_public_read_objects_over_plain_http(
    public_bucket: tuple[SignatureRecordingS3, str, Any], tmp_path: Path
) -> None:
    server, bucket, client = public_bucket
    before = _objects(client, bucket)
    server.clear()
    server.signed.clear()
    cdn = HTTPStorage(base_url=f"{server.endpoint_url}/{bucket}/")
    storage = FallbackStorage(backends=[FileSystemStorage(location=str(tmp_path)), cdn])
    assert read(storage, "photos/sunset.png") == FILES["photos/sunset.png"]
    for name in QUOTED:
        assert storage.exists(name) is True
        assert read(storage, name) == FILES[name]
    assert storage.size("photos/sunset.png") == len(FILES["photos/sunset.png"])
    assert storage.get_modified_time("photos/sunset.png").tzinfo is not None
    assert storage.exists("missing.txt") is False
    # A private object: S3 refuses an anonymous reader.
    with pytest.raises(OriginForbiddenError, match=r"was refused 'private.txt' .* 403"):
        storage.exists("private.txt")
    lenient = HTTPStorage(base_url=f"{server.endpoint_url}/{bucket}/", forbidden_as_missing=True)
    assert lenient.exists("private.txt") is False
    assert storage.save("photos/new.png", ContentFile(b"local")) == "photos/new.png"
    assert (tmp_path / "photos" / "new.png").read_bytes() == b"local"

    requests = server.to_bucket(bucket)
    assert requests and {method for method, _ in requests} <= {"GET", "HEAD"}
    assert server.signed and not any(server.signed)
    assert _objects(client, bucket) == before


# -- the management command and the system checks --------------------------------------


def _settings(origin_url: str, local: Path) -> dict[str, Any]:
    return {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "media": {
            "BACKEND": "fallback_storage.storage.FallbackStorage",
            "OPTIONS": {
                "backends": [
                    {
                        "BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": str(local)},
                    },
                    {"BACKEND": HTTP, "OPTIONS": {"base_url": origin_url, "prefix": "media"}},
                ]
            },
        },
        "only_http": {
            "BACKEND": "fallback_storage.storage.FallbackStorage",
            "OPTIONS": {"backends": [{"BACKEND": HTTP, "OPTIONS": {"base_url": origin_url}}]},
        },
    }


def run(*args: str) -> str:
    out = StringIO()
    call_command("fallback_storage", *args, stdout=out)
    return out.getvalue()


def test_command_names_the_http_layer_and_its_base_url(origin: Nginx, local_media: Path) -> None:
    with override_settings(STORAGES=_settings(origin.url, local_media)):
        assert json.loads(run("layers", "--storage", "media", "--json"))[1] == {
            "layer": 1,
            "class": "HTTPStorage",
            "access": "read-only",
            "s3_guard": None,
            "location": f"{origin.url}media/",
        }
        lines = run("which", "photos/sunset.png", "--storage", "media").splitlines()
        assert lines[1].split() == [
            "photos/sunset.png",
            "1",
            "HTTPStorage",
            "read-only",
            f"{origin.url}media/",
            "-",
            "-",
        ]
        assert json.loads(run("which", "hello.txt", "--storage", "media", "--json"))[
            "shadowed_in"
        ] == [1]
        listing = json.loads(run("ls", "--storage", "media", "--json"))
        assert {entry["name"] for entry in listing} == set(LOCAL_FILES)


def test_checks_count_http_storage_as_read_only(origin: Nginx, local_media: Path) -> None:
    with override_settings(STORAGES=_settings(origin.url, local_media)):
        ours = [m for m in run_checks() if m.id and m.id.startswith("fallback_storage.")]
    assert [(m.id, m.msg.split(" is ")[0]) for m in ours] == [
        ("fallback_storage.E001", "settings.STORAGES['only_http']")
    ]
    assert "(HTTPStorage)" in ours[0].msg


def test_the_origin_saw_only_reads(origin: Nginx) -> None:
    requests = origin.requests()
    assert requests and {request.method for request in requests} <= {"GET", "HEAD"}
    on_disk = {
        path.relative_to(origin.media).as_posix(): path.read_bytes()
        for path in origin.media.rglob("*")
        if path.is_file()
    }
    assert on_disk == FILES
