"""An unreachable layer is skipped for a while: the dev site stays fast when production is down.

Production is a "black hole" on 127.0.0.1: a server that accepts connections
and never answers, so every request to it times out (django-storages'
S3Storage with a 0.5 s read timeout and no retries). The server counts the
connections it accepted, which is how the tests see that FallbackStorage
stopped asking. Time is moved with freezegun, never waited for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from black_hole import BlackHole
from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from freezegun import freeze_time
from storages.backends.s3 import S3Storage

from fallback_storage.exceptions import LayerUnreachableError
from fallback_storage.outages import is_unreachable
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage

LAYER = "backend 1 (ReadOnlyStorage(S3Storage))"


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    server = BlackHole()
    yield server
    server.close()


def layered(local_dir: Path, endpoint_url: str, **options: Any) -> FallbackStorage:
    local = FileSystemStorage(location=str(local_dir), base_url="/local/")
    local.save("local.txt", ContentFile(b"local bytes"))
    production = S3Storage(
        bucket_name="production",
        endpoint_url=endpoint_url,
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        client_config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=0.5,
            read_timeout=0.5,
            retries={"total_max_attempts": 1},
        ),
    )
    return FallbackStorage(backends=[local, ReadOnlyStorage(production)], **options)


def read(storage: FallbackStorage, name: str) -> bytes:
    with storage.open(name) as handle:
        data: bytes = handle.read()
    return data


def test_after_one_timeout_the_layer_is_skipped_and_says_until_when(
    local_dir: Path, black_hole: BlackHole, caplog: pytest.LogCaptureFixture
) -> None:
    storage = layered(local_dir, black_hole.endpoint_url)
    with caplog.at_level(logging.WARNING, logger="fallback_storage.outages"):
        with pytest.raises(Exception) as first:
            read(storage, "image-0.jpg")
        assert is_unreachable(first.value)
        assert black_hole.reaches(1)
        accepted = black_hole.accepted

        # 49 more production images: none of them goes to production again.
        for number in range(1, 50):
            with pytest.raises(LayerUnreachableError) as caught:
                read(storage, f"image-{number}.jpg")
        assert black_hole.accepted == accepted

        # Local files are served as usual meanwhile, and uploads land locally.
        assert read(storage, "local.txt") == b"local bytes"
        saved = storage.save("upload.txt", ContentFile(b"new"))
        assert (local_dir / saved).read_bytes() == b"new"
    assert not black_hole.reaches(accepted + 1, within=1.0)

    error = caught.value
    assert isinstance(error, ConnectionError)
    assert error.layer == LAYER
    assert error.retry_at > datetime.now()
    assert str(error).startswith(
        f"{LAYER} was not asked for 'image-49.jpg': it could not be reached (ReadTimeoutError: "
    )
    assert str(error).endswith(
        f"so FallbackStorage skips it until {error.retry_at:%H:%M:%S} (in 30 s); "
        f"the other layers were asked."
    )
    # The local layer's "missing" is kept beside it, as for any failure of several layers.
    assert any("backend 0 (FileSystemStorage)" in note for note in getattr(error, "__notes__", []))
    outage_lines = [record for record in caplog.records if "cannot be reached" in record.message]
    assert len(outage_lines) == 1
    assert outage_lines[0].message.startswith(f"{LAYER} cannot be reached (ReadTimeoutError: ")


def test_the_layer_is_asked_again_after_the_time_and_the_end_is_logged(
    local_dir: Path, black_hole: BlackHole, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    storage = layered(local_dir, black_hole.endpoint_url, skip_unreachable_for=10)
    with freeze_time() as clock, caplog.at_level(logging.WARNING):
        with pytest.raises(Exception):  # noqa: B017 - the timeout, whatever botocore calls it
            storage.exists("a.jpg")
        with pytest.raises(LayerUnreachableError):
            storage.exists("a.jpg")
        assert black_hole.reaches(1)

        clock.tick(timedelta(seconds=11))
        with pytest.raises(Exception) as again:  # noqa: B017
            storage.exists("a.jpg")
        assert not isinstance(again.value, LayerUnreachableError)
        assert is_unreachable(again.value)  # asked again, and still down
        assert black_hole.reaches(2)
        with pytest.raises(LayerUnreachableError):
            storage.exists("a.jpg")
    # Still the same outage: logged once.
    assert sum("cannot be reached" in record.message for record in caplog.records) == 1


class Flaky(FileSystemStorage):
    """A layer that is down (refused connections) while ``down``, a directory on disk after."""

    down = True

    def exists(self, name: str) -> bool:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return super().exists(name)


def test_a_layer_that_answers_again_ends_the_outage(
    local_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = Flaky(location=str(local_dir / "prod"))
    flaky.down = False
    flaky.save("p.txt", ContentFile(b"prod"))
    flaky.down = True
    storage = FallbackStorage(
        backends=[FileSystemStorage(location=str(local_dir / "local")), ReadOnlyStorage(flaky)]
    )
    with freeze_time() as clock, caplog.at_level(logging.WARNING):
        with pytest.raises(ConnectionRefusedError):
            storage.exists("p.txt")
        flaky.down = False
        with pytest.raises(LayerUnreachableError):
            storage.exists("p.txt")  # not asked yet
        clock.tick(timedelta(seconds=31))
        assert storage.exists("p.txt") is True
    messages = [record.message for record in caplog.records]
    assert messages == [
        "backend 1 (ReadOnlyStorage(Flaky)) cannot be reached (ConnectionRefusedError: "
        "[Errno 111] Connection refused); FallbackStorage skips it for 30 s.",
        "backend 1 (ReadOnlyStorage(Flaky)) answers again.",
    ]


def test_answers_that_are_errors_do_not_start_an_outage(local_dir: Path) -> None:
    class Failing(FileSystemStorage):
        calls = 0

        def exists(self, name: str) -> bool:
            self.calls += 1
            raise PermissionError(13, "Permission denied")

    failing = Failing(location=str(local_dir / "prod"))
    storage = FallbackStorage(
        backends=[FileSystemStorage(location=str(local_dir / "local")), ReadOnlyStorage(failing)]
    )
    for _ in range(3):
        with pytest.raises(PermissionError):
            storage.exists("p.txt")
    assert failing.calls == 3


def test_skip_unreachable_for_none_always_asks(local_dir: Path, black_hole: BlackHole) -> None:
    storage = layered(local_dir, black_hole.endpoint_url, skip_unreachable_for=None)
    for _ in range(2):
        with pytest.raises(Exception) as caught:  # noqa: B017
            storage.exists("a.jpg")
        assert is_unreachable(caught.value)
        assert not isinstance(caught.value, LayerUnreachableError)
    assert black_hole.reaches(2)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "30",
            "FallbackStorage 'skip_unreachable_for' must be a number of seconds or None, got "
            "'30'; set it to e.g. 30, or to None to always ask every layer.",
        ),
        (
            -1,
            "FallbackStorage 'skip_unreachable_for' must be a positive, finite number of "
            "seconds, got -1; set it to e.g. 30, or to None to always ask every layer.",
        ),
        (
            float("inf"),
            "FallbackStorage 'skip_unreachable_for' must be a positive, finite number of "
            "seconds, got inf; set it to e.g. 30, or to None to always ask every layer.",
        ),
    ],
)
def test_bad_values_are_refused(value: object, message: str, local_dir: Path) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(
            backends=[FileSystemStorage(location=str(local_dir))], skip_unreachable_for=value
        )
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        ConnectionResetError(104, "reset"),
        TimeoutError("timed out"),
        TimeoutError("timed out"),
    ],
)
def test_what_counts_as_unreachable(error: Exception) -> None:
    assert is_unreachable(error)


@pytest.mark.parametrize(
    "error", [PermissionError(13, "denied"), FileNotFoundError(2, "missing"), ValueError("x")]
)
def test_what_does_not_count_as_unreachable(error: Exception) -> None:
    assert not is_unreachable(error)
