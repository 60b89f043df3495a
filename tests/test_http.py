"""HTTPStorage against a real nginx on 127.0.0.1: reads, names, seeks, auth, TLS, refusals.

Every request count and method is read from nginx's access log, so what is
asserted is what reached the origin.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest
import urllib3
from django.core.files.base import ContentFile
from django.core.files.images import get_image_dimensions
from django.test import override_settings
from http_media import BIG_SIZE, FILES, QUOTED, running_nginx
from nginx import PASSWORD, TOKEN, Logged, Nginx
from PIL import Image

from fallback_storage.exceptions import (
    OriginForbiddenError,
    OriginUnreachableError,
    ReadOnlyStorageError,
    SuspiciousFileName,
)
from fallback_storage.http import HTTPStorage
from fallback_storage.http_client import POOL_SIZE


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with running_nginx(tmp_path_factory.mktemp("origin")) as server:
        yield server
        methods = {request.method for request in server.requests()}
    assert methods <= {"GET", "HEAD"}, f"nginx received {methods}"


@pytest.fixture
def mark(origin: Nginx) -> int:
    return origin.mark()


def storage_for(origin: Nginx, location: str = "media/", **options: object) -> HTTPStorage:
    return HTTPStorage(base_url=origin.url + location, **options)  # type: ignore[arg-type]


@pytest.fixture
def media(origin: Nginx) -> Iterator[HTTPStorage]:
    storage = storage_for(origin)
    yield storage
    storage.close()


def summary(requests: list[Logged]) -> list[tuple[str, str, int]]:
    return [(request.method, request.uri, request.status) for request in requests]


# -- reading ---------------------------------------------------------------------------


def test_exists_is_one_head(origin: Nginx, media: HTTPStorage, mark: int) -> None:
    assert media.exists("hello.txt") is True
    assert media.exists("missing.txt") is False
    assert summary(origin.requests(mark)) == [
        ("HEAD", "/media/hello.txt", 200),
        ("HEAD", "/media/missing.txt", 404),
    ]


def test_gone_counts_as_missing(origin: Nginx, mark: int) -> None:
    gone = storage_for(origin, "gone/")
    assert gone.exists("hello.txt") is False
    with pytest.raises(FileNotFoundError, match=r"has no 'hello.txt' \(GET .*/gone/hello.txt "):
        gone.open("hello.txt")
    assert summary(origin.requests(mark)) == [
        ("HEAD", "/gone/hello.txt", 410),
        ("GET", "/gone/hello.txt", 410),
    ]


def test_open_is_one_get_of_the_whole_file(origin: Nginx, media: HTTPStorage, mark: int) -> None:
    with media.open("photos/sunset.png") as handle:
        content = handle.read()
        assert handle.size == len(FILES["photos/sunset.png"])
    assert content == FILES["photos/sunset.png"]
    [request] = origin.requests(mark)
    assert (request.method, request.uri, request.status) == ("GET", "/media/photos/sunset.png", 200)
    assert request.body_bytes == len(content)
    assert (request.range, request.conditional) == ("", "")


def test_open_of_a_missing_file_raises_file_not_found(media: HTTPStorage) -> None:
    with pytest.raises(FileNotFoundError, match=r"has no 'missing.txt' \(GET .* answered 404"):
        media.open("missing.txt")


def test_text_mode_decodes_utf8(media: HTTPStorage) -> None:
    with media.open("unicodé 写真.txt", "r") as handle:
        assert handle.read() == "content of unicodé 写真.txt\n"


@pytest.mark.parametrize("name", sorted(QUOTED))
def test_names_are_quoted_in_requests_and_urls(
    origin: Nginx, media: HTTPStorage, mark: int, name: str
) -> None:
    assert media.exists(name) is True
    with media.open(name) as handle:
        assert handle.read() == FILES[name]
    url = media.url(name)
    assert url == f"{origin.url}media/{QUOTED[name]}"
    # What a browser would do with the URL.
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == FILES[name]
    assert summary(origin.requests(mark)) == [
        ("HEAD", f"/media/{QUOTED[name]}", 200),
        ("GET", f"/media/{QUOTED[name]}", 200),
        ("GET", f"/media/{QUOTED[name]}", 200),
    ]


def test_url_sends_no_request(origin: Nginx, media: HTTPStorage, mark: int) -> None:
    assert media.url("photos/sunset.png") == f"{origin.url}media/photos/sunset.png"
    assert media.url(None) == f"{origin.url}media/"
    assert origin.requests(mark) == []


def test_prefix_goes_before_every_name(origin: Nginx, mark: int) -> None:
    storage = HTTPStorage(base_url=origin.url, prefix="/media/photos/")
    assert storage.url("sunset.png") == f"{origin.url}media/photos/sunset.png"
    assert storage.exists("sunset.png") is True
    assert summary(origin.requests(mark)) == [("HEAD", "/media/photos/sunset.png", 200)]


def test_size_and_modified_time_come_from_one_head_each(
    origin: Nginx, media: HTTPStorage, mark: int
) -> None:
    assert media.size("big.bin") == BIG_SIZE
    modified = media.get_modified_time("big.bin")
    on_disk = int(os.stat(origin.media / "big.bin").st_mtime)
    assert modified == datetime.fromtimestamp(on_disk, timezone.utc)
    assert modified.tzinfo is not None
    with override_settings(USE_TZ=False):
        assert media.get_modified_time("big.bin") == datetime.fromtimestamp(on_disk)
    assert summary(origin.requests(mark)) == [("HEAD", "/media/big.bin", 200)] * 3
    with pytest.raises(FileNotFoundError):
        media.size("missing.txt")


# -- streaming and seeking --------------------------------------------------------------


def test_seeking_back_and_forth_costs_one_get(origin: Nginx, media: HTTPStorage, mark: int) -> None:
    big = FILES["big.bin"]
    with media.open("big.bin") as handle:
        assert handle.read(10) == big[:10]
        handle.seek(0)
        assert handle.read(100) == big[:100]
        handle.seek(2_000_000)
        assert handle.read(5) == big[2_000_000:2_000_005]
        handle.seek(100)
        assert handle.read(5) == big[100:105]
        assert handle.tell() == 105
        handle.seek(-7, os.SEEK_END)
        assert handle.read() == big[-7:]
        handle.seek(3, os.SEEK_SET)
        handle.seek(4, os.SEEK_CUR)
        assert handle.read(3) == big[7:10]
    [request] = origin.requests(mark)
    assert (request.method, request.uri, request.range) == ("GET", "/media/big.bin", "")


def test_pillow_identifies_and_decodes_an_image(
    origin: Nginx, media: HTTPStorage, mark: int
) -> None:
    with media.open("photos/sunset.png") as handle:
        assert get_image_dimensions(handle) == (64, 48)  # what ImageField does
        with Image.open(handle) as image:
            assert image.size == (64, 48)
            assert image.getpixel((10, 10)) == (214, 72, 46)
    assert len(origin.requests(mark)) == 1


def test_zipfile_reads_members_through_seeks(origin: Nginx, media: HTTPStorage, mark: int) -> None:
    # zipfile starts at the end of the file (the central directory), then seeks to each member.
    with media.open("archive.zip") as handle, zipfile.ZipFile(handle) as archive:
        assert len(archive.namelist()) == 20
        assert archive.read("member-13.txt") == b"member 13\n" * 2000
        assert archive.read("member-02.txt") == b"member 2\n" * 2000
    assert len(origin.requests(mark)) == 1


def test_origin_honours_ranges_and_conditions_but_storage_asks_for_whole_files(
    origin: Nginx, media: HTTPStorage, mark: int
) -> None:
    url = media.url("big.bin")
    with urllib3.PoolManager() as direct:
        ranged = direct.request("GET", url, headers={"Range": "bytes=0-9"})
        assert (ranged.status, ranged.data) == (206, FILES["big.bin"][:10])
        modified = direct.request("HEAD", url).headers["Last-Modified"]
        conditional = direct.request("GET", url, headers={"If-Modified-Since": modified})
        assert conditional.status == 304
    before = origin.mark()
    with media.open("big.bin") as handle:
        assert handle.read() == FILES["big.bin"]
    [request] = origin.requests(before)
    assert (request.status, request.range, request.conditional) == (200, "", "")
    assert [request.status for request in origin.requests(mark)] == [206, 200, 304, 200]


# -- redirects, auth, TLS ---------------------------------------------------------------


def test_redirects_are_followed(origin: Nginx, mark: int) -> None:
    moved = storage_for(origin, "moved/")
    assert moved.exists("hello.txt") is True
    with moved.open("hello.txt") as handle:
        assert handle.read() == FILES["hello.txt"]
    assert summary(origin.requests(mark)) == [
        ("HEAD", "/moved/hello.txt", 301),
        ("HEAD", "/media/hello.txt", 200),
        ("GET", "/moved/hello.txt", 301),
        ("GET", "/media/hello.txt", 200),
    ]


def test_basic_auth(origin: Nginx, mark: int) -> None:
    private = storage_for(origin, "private/", basic_auth=("reader", PASSWORD))
    with private.open("hello.txt") as handle:
        assert handle.read() == FILES["hello.txt"]
    assert [(request.status, request.auth) for request in origin.requests(mark)] == [(200, "basic")]
    with pytest.raises(OriginForbiddenError, match=r"answered 401 .*; check the credentials in"):
        storage_for(origin, "private/", basic_auth=("reader", "wrong")).exists("hello.txt")


def test_bearer_token(origin: Nginx, mark: int) -> None:
    with_token = storage_for(origin, "token/", bearer_token=TOKEN)
    assert with_token.exists("hello.txt") is True
    assert with_token.size("hello.txt") == len(FILES["hello.txt"])
    assert [(request.status, request.auth) for request in origin.requests(mark)] == [
        (200, "bearer"),
        (200, "bearer"),
    ]


def test_refused_credentials_raise_an_error_that_names_auth(origin: Nginx) -> None:
    anonymous = storage_for(origin, "token/")
    with pytest.raises(OriginForbiddenError) as raised:
        anonymous.exists("hello.txt")
    assert isinstance(raised.value, PermissionError)
    assert raised.value.status == 401
    assert str(raised.value) == (
        f"HTTPStorage('{origin.url}token/') was refused 'hello.txt' (HEAD "
        f"{origin.url}token/hello.txt answered 401 Unauthorized); set 'basic_auth' or "
        f"'bearer_token' if the origin needs credentials, or 'forbidden_as_missing': True if "
        f"it answers 403 for missing files."
    )


def test_forbidden_as_missing(origin: Nginx, mark: int) -> None:
    strict = storage_for(origin, "forbidden/")
    with pytest.raises(OriginForbiddenError, match=r"answered 403 Forbidden"):
        strict.exists("hello.txt")
    lenient = storage_for(origin, "forbidden/", forbidden_as_missing=True)
    assert lenient.exists("hello.txt") is False
    with pytest.raises(FileNotFoundError, match=r"because 'forbidden_as_missing' is True"):
        lenient.open("hello.txt")
    assert [request.status for request in origin.requests(mark)] == [403, 403, 403]


def test_secrets_stay_out_of_messages_logs_and_migrations(
    origin: Nginx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    basic = storage_for(origin, "private/", basic_auth=("reader", "wrong password"))
    token = storage_for(origin, "token/", bearer_token="wrong-token")
    messages = [repr(basic), repr(token)]
    for storage in (basic, token):
        with pytest.raises(OriginForbiddenError) as raised:
            storage.open("hello.txt")
        messages.append(str(raised.value))
    assert caplog.records, "the requests are logged at DEBUG"
    messages += [record.getMessage() for record in caplog.records]
    for text in messages:
        assert "wrong password" not in text and "wrong-token" not in text
    assert "d3JvbmcgcGFzc3dvcmQ" not in " ".join(messages)  # base64 of the password
    path, args, kwargs = token.deconstruct()
    assert (path, args, kwargs) == (
        "fallback_storage.http.HTTPStorage",
        (),
        {"base_url": f"{origin.url}token/"},
    )


def test_tls_with_a_ca_bundle(origin: Nginx) -> None:
    ca = origin.work.parent / "ca.pem"
    trusted = HTTPStorage(base_url=origin.tls_url + "media/", verify=str(ca))
    with trusted.open("hello.txt") as handle:
        assert handle.read() == FILES["hello.txt"]


def test_tls_verification_failure_names_verify(origin: Nginx) -> None:
    untrusted = HTTPStorage(base_url=origin.tls_url + "media/", retries=0)
    with pytest.raises(OriginUnreachableError, match=r"TLS failed .*set 'verify' to the path"):
        untrusted.exists("hello.txt")


def test_verify_false_reads_and_urllib3_warns(origin: Nginx) -> None:
    unverified = HTTPStorage(base_url=origin.tls_url + "media/", verify=False)
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        assert unverified.exists("hello.txt") is True


# -- the pool ------------------------------------------------------------------------


def test_one_pool_shared_by_threads(origin: Nginx, media: HTTPStorage, mark: int) -> None:
    for _ in range(5):
        assert media.exists("hello.txt")
    sequential = origin.requests(mark)
    assert len({request.connection for request in sequential}) == 1  # keep-alive reused

    errors: list[BaseException] = []
    start = threading.Barrier(8, timeout=30)

    def read_many() -> None:
        try:
            start.wait()
            for _ in range(5):
                with media.open("photos/sunset.png") as handle:
                    assert handle.read() == FILES["photos/sunset.png"]
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=read_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)
    concurrent = origin.requests(mark)[len(sequential) :]
    assert len(concurrent) == 40
    assert len({request.connection for request in concurrent}) <= POOL_SIZE


def test_pickled_storage_reads_with_a_new_pool(media: HTTPStorage) -> None:
    assert media.exists("hello.txt")
    copy = pickle.loads(pickle.dumps(media))
    assert copy.client is not media.client
    assert copy.exists("hello.txt") is True


# -- refusals ------------------------------------------------------------------------


def test_writes_are_refused_before_any_request(
    origin: Nginx, media: HTTPStorage, mark: int
) -> None:
    attempts: list[tuple[str, Callable[[], object]]] = [
        ("save", lambda: media.save("new.txt", ContentFile(b"x"))),
        ("save", lambda: media._save("new.txt", ContentFile(b"x"))),
        ("delete", lambda: media.delete("hello.txt")),
        ("open (mode 'wb')", lambda: media.open("hello.txt", "wb")),
        ("open (mode 'ab')", lambda: media.open("hello.txt", "ab")),
        ("open (mode 'r+b')", lambda: media.open("hello.txt", "r+b")),
        ("open (mode 'x')", lambda: media.open("hello.txt", "x")),
    ]
    for operation, attempt in attempts:
        with pytest.raises(ReadOnlyStorageError) as raised:
            attempt()
        assert raised.value.operation == operation
        assert str(raised.value).startswith(f"HTTPStorage('{origin.url}media/') refused to ")
        assert str(raised.value).endswith(
            "an HTTP origin is read-only (it is only sent GET and HEAD); list a writable "
            "backend beside it in FallbackStorage."
        )
    assert origin.requests(mark) == []


def test_suspicious_names_are_refused_before_any_request(
    origin: Nginx, media: HTTPStorage, mark: int
) -> None:
    for name in ("../secret.txt", "/etc/passwd", "a/../../b", "nul\x00byte.txt", "..\\up.txt"):
        for call in (media.exists, media.open, media.size, media.url, media.get_modified_time):
            with pytest.raises(SuspiciousFileName):
                call(name)
    assert origin.requests(mark) == []


def test_listdir_and_path_say_they_cannot(media: HTTPStorage) -> None:
    with pytest.raises(NotImplementedError, match=r"cannot list 'photos': plain HTTP has no"):
        media.listdir("photos")
    with pytest.raises(NotImplementedError, match=r"has no local path for 'hello.txt'"):
        media.path("hello.txt")


def test_the_file_behaves_like_a_read_only_binary_file(media: HTTPStorage) -> None:
    handle = media.open("hello.txt")
    assert repr(handle) == "<HTTPFile: hello.txt>"
    assert (handle.mode, handle.readable(), handle.seekable()) == ("rb", True, True)
    with pytest.raises(ValueError, match="invalid whence"):
        handle.seek(0, 3)
    with pytest.raises(ValueError, match="negative seek position"):
        handle.seek(-100, os.SEEK_CUR)
    assert handle.read() == FILES["hello.txt"]
    assert handle.read() == b""
    handle.seek(0)
    assert list(handle.chunks(8)) == [FILES["hello.txt"][i : i + 8] for i in range(0, 22, 8)]
    handle.close()
    handle.close()
    assert handle.closed
    with pytest.raises(ValueError):
        handle.read()


def test_open_in_a_mode_that_is_not_reading(media: HTTPStorage) -> None:
    with pytest.raises(ValueError, match=r"cannot open 'hello.txt' in mode 'rU'; use 'rb'"):
        media.open("hello.txt", "rU")
