"""recording(): every storage call through a FallbackStorage, over real storages.

Real FileSystemStorage on temporary directories, Django's InMemoryStorage, and
ReadOnlyStorage over S3Storage on the moto server, whose received requests are
the truth the recorded counts are compared with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from counting_s3 import CountingS3Server
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from storages.backends.s3 import S3Storage

from fallback_storage import FallbackStorage, ReadOnlyStorage, ReadOnlyStorageError
from fallback_storage.call_figures import layer_totals
from fallback_storage.call_log import answered_by
from fallback_storage.call_recording import Recorder, is_recording, recording

STORAGE = "FallbackStorage(FileSystemStorage, ReadOnlyStorage)"
LOCAL = f"{STORAGE} backend 0 (FileSystemStorage)"
MEMORY = f"{STORAGE} backend 1 (ReadOnlyStorage(InMemoryStorage))"
S3 = f"{STORAGE} backend 1 (ReadOnlyStorage(S3Storage))"


@pytest.fixture
def over_memory(tmp_path: Path) -> FallbackStorage:
    lower = InMemoryStorage()
    lower.save("photos/lower.png", ContentFile(b"lower"))
    local = FileSystemStorage(location=str(tmp_path))
    local.save("photos/local.png", ContentFile(b"local"))
    return FallbackStorage([local, ReadOnlyStorage(lower)])


@pytest.fixture
def over_s3(
    tmp_path: Path, s3_storage_factory: Callable[..., S3Storage], production_bucket: str
) -> FallbackStorage:
    production = ReadOnlyStorage(s3_storage_factory(production_bucket))
    return FallbackStorage([FileSystemStorage(location=str(tmp_path)), production])


def test_each_call_names_its_operation_name_and_the_layer_that_answered(
    over_memory: FallbackStorage,
) -> None:
    with recording() as log:
        assert over_memory.exists("photos/lower.png")
        assert over_memory.exists("photos/local.png")
        assert not over_memory.exists("photos/nowhere.png")
        with over_memory.open("photos/lower.png") as handle:
            assert handle.read() == b"lower"
        assert over_memory.listdir("photos") == ([], ["local.png", "lower.png"])
    seen = [(call.operation, call.name, answered_by(call)) for call in log.calls]
    assert seen == [
        ("exists", "photos/lower.png", [MEMORY]),
        ("exists", "photos/local.png", [LOCAL]),
        ("exists", "photos/nowhere.png", []),
        ("open", "photos/lower.png", [MEMORY]),
        ("listdir", "photos", [LOCAL, MEMORY]),
    ]
    assert [call.mode for call in log.calls] == [None, None, None, "rb", None]
    assert all(call.duration > 0 and call.error is None for call in log.calls)
    assert log.requests() == []
    assert log.slowest() == sorted(log.calls, key=lambda call: -call.duration)


def test_a_failed_call_keeps_its_error_and_each_layers_outcome(
    over_memory: FallbackStorage,
) -> None:
    with recording() as log, pytest.raises(FileNotFoundError):
        over_memory.size("photos/nowhere.png")
    (call,) = log.calls
    assert call.error is not None and call.error.startswith("FileNotFoundError: ")
    assert answered_by(call) == []
    outcomes = [(c.layer, c.method, c.outcome) for c in call.calls if c.method == "size"]
    assert outcomes == [(LOCAL, "size", "missing"), (MEMORY, "size", "missing")]


def test_requests_each_remote_layer_received_are_counted_exactly(
    over_s3: FallbackStorage, s3_server: CountingS3Server, production_bucket: str
) -> None:
    over_s3.exists("warm-up")  # builds the layers and the S3 client outside the recording
    s3_server.clear()
    with recording() as log:
        assert over_s3.exists("prod-only.txt")
        handle = over_s3.open("prod-only.txt")
        assert handle.read() == b"from production"  # read after open() returned
        handle.close()
        over_s3.save("new.txt", ContentFile(b"new"))
    received = list(s3_server.requests)
    assert [method for method, _ in received] == ["HEAD", "HEAD", "HEAD", "GET", "HEAD"]
    totals = layer_totals(log)
    assert totals[S3].requests == len(received)
    assert totals[S3].operations == {"HeadObject": 4, "GetObject": 1}
    assert totals[LOCAL].requests == 0
    assert sum(request.attempts for request in log.requests()) == len(received)
    # The download ran in s3transfer's threads, after open() returned: a later request.
    assert [(r.operation, r.target, r.layer) for r in log.later_requests] == [
        ("HeadObject", "prod-only.txt", S3),
        ("GetObject", "prod-only.txt", S3),
    ]
    assert [answered_by(call) for call in log.calls] == [[S3], [S3], [LOCAL]]
    assert [request.status for request in log.calls[0].requests()] == [200]


def test_another_client_of_the_same_bucket_is_no_layers(
    over_s3: FallbackStorage, s3_server: CountingS3Server, production_bucket: str
) -> None:
    own = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")
    with recording() as log:
        assert over_s3.exists("both.txt")
        own.list_objects_v2(Bucket=production_bucket)  # the site's own code, not a layer
    own.close()
    assert len(s3_server.requests) == 2
    assert log.later_requests == []
    assert layer_totals(log)[S3].operations == {"HeadObject": 1}


def test_a_write_refused_by_a_read_only_layer_is_noted_once(
    over_s3: FallbackStorage, s3_server: CountingS3Server
) -> None:
    s3_server.clear()
    with recording() as log:
        production = over_s3.backends[1]
        with pytest.raises(ReadOnlyStorageError):
            production.delete("prod-only.txt")
    assert s3_server.requests == []
    (call,) = log.calls
    assert (call.operation, call.name, call.direct) == ("delete", "prod-only.txt", True)
    (refusal,) = log.refusals
    assert (refusal.layer, refusal.operation, refusal.name) == (S3, "delete", "prod-only.txt")
    assert refusal.message.startswith("ReadOnlyStorage refused to delete 'prod-only.txt' in ")


def test_only_the_recording_context_is_recorded_and_everything_is_put_back(
    over_memory: FallbackStorage,
) -> None:
    local = over_memory.backends[0]
    exists = vars(FallbackStorage)["exists"]
    other_thread: list[bool] = []

    def elsewhere() -> None:
        other_thread.append(is_recording())
        over_memory.exists("photos/local.png")

    recorder = Recorder()
    recorder.start()
    try:
        assert is_recording()
        over_memory.exists("photos/lower.png")
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        assert "exists" in vars(local)  # the layer is instrumented while recording
        assert vars(FallbackStorage)["exists"] is not exists and "open" in vars(FallbackStorage)
    finally:
        recorder.stop()
    recorder.stop()  # a second stop does nothing
    assert other_thread == [False]
    assert [(call.operation, call.name) for call in recorder.log.calls] == [
        ("exists", "photos/lower.png")
    ]
    assert not is_recording()
    assert "exists" not in vars(local)
    assert vars(FallbackStorage)["exists"] is exists and "open" not in vars(FallbackStorage)
    with recording() as log:
        pass
    over_memory.exists("photos/local.png")
    assert log.calls == []


def test_nested_fallback_storages_are_reported_down_to_the_inner_layer(
    tmp_path: Path,
) -> None:
    lower = InMemoryStorage()
    lower.save("deep.txt", ContentFile(b"deep"))
    inner = FallbackStorage([FileSystemStorage(location=str(tmp_path / "a")), lower])
    outer = FallbackStorage([FileSystemStorage(location=str(tmp_path / "b")), inner])
    with recording() as log:
        assert outer.exists("deep.txt")
    (call,) = log.calls
    outer_label = "FallbackStorage(FileSystemStorage, FallbackStorage)"
    assert answered_by(call) == [
        f"{outer_label} backend 1 (FallbackStorage) › backend 1 (InMemoryStorage)"
    ]
