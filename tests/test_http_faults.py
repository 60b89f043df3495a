"""HTTPStorage against an origin that misbehaves (tests/http_faults.py) or is not there.

Each failure must be a bounded wait and one clear exception: ConnectionError
or TimeoutError for an outage (what FallbackStorage's outage handling
recognises), FileNotFoundError only for a missing file. Requests are counted
at the fault server.
"""

from __future__ import annotations

import pickle
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from faults import finishes_within
from http_faults import FaultServer, large_byte
from nginx import free_port

from fallback_storage import copying, http_client
from fallback_storage.exceptions import (
    HTTPOriginError,
    OriginTimeoutError,
    OriginUnreachableError,
)
from fallback_storage.http import HTTPStorage
from fallback_storage.http_client import MAX_REDIRECTS
from fallback_storage.storage import FallbackStorage

BODY = b"0123456789" * 1000
BOUND = 30.0  # seconds: catches a hang, measures nothing


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    server = FaultServer()
    server.files["file.txt"] = BODY
    yield server
    server.close()
    methods = {request.method for request in server.received}
    assert methods <= {"GET", "HEAD"}, f"the fault server received {methods}"


@pytest.fixture
def fresh(faults: FaultServer) -> FaultServer:
    faults.clear()
    return faults


def storage(faults: FaultServer, fault: str, **options: object) -> HTTPStorage:
    options.setdefault("backoff_factor", 0)
    return HTTPStorage(base_url=f"{faults.url}{fault}/", **options)  # type: ignore[arg-type]


def test_an_origin_that_never_answers_costs_one_timeout(fresh: FaultServer) -> None:
    hung = storage(fresh, "hang", timeout=0.5, retries=3)
    with pytest.raises(OriginTimeoutError) as raised:
        finishes_within(BOUND, lambda: hung.exists("file.txt"))
    assert isinstance(raised.value, TimeoutError)
    assert str(raised.value).startswith(
        f"HTTPStorage('{fresh.url}hang/') could not read {fresh.url}hang/file.txt: the origin "
        f"did not answer within the 'timeout' of 0.5 seconds ("
    )
    assert str(raised.value).endswith("); check that it is up, or raise 'timeout'.")
    assert fresh.paths() == [("HEAD", "/hang/file.txt")]  # timeouts are not retried


def test_a_body_that_stalls_times_out_while_reading(fresh: FaultServer) -> None:
    stalled = storage(fresh, "stall", timeout=0.5)
    handle = stalled.open("file.txt")
    try:
        with pytest.raises(OriginTimeoutError, match=r"broke off reading .*stall/file.txt"):
            finishes_within(BOUND, handle.read)
    finally:
        handle.close()


def test_a_connection_refused_is_a_connection_error(fresh: FaultServer) -> None:
    closed = HTTPStorage(base_url=f"http://127.0.0.1:{free_port()}/", retries=1, backoff_factor=0)
    with pytest.raises(OriginUnreachableError) as raised:
        closed.open("file.txt")
    assert isinstance(raised.value, ConnectionError)
    assert "the connection failed (" in str(raised.value)
    assert "Connection refused" in str(raised.value)
    assert str(raised.value).endswith(
        "); check that the origin is up and that 'base_url' is right."
    )


def test_a_reset_connection_is_retried_then_a_connection_error(fresh: FaultServer) -> None:
    reset = storage(fresh, "reset", retries=2)
    with pytest.raises(OriginUnreachableError) as raised:
        reset.exists("file.txt")
    assert isinstance(raised.value, ConnectionError)
    assert raised.value.url == f"{fresh.url}reset/file.txt"
    assert fresh.paths() == [("HEAD", "/reset/file.txt")] * 3


def test_the_errors_survive_pickling(fresh: FaultServer) -> None:
    # Django's parallel test runner and task queues pickle exceptions.
    with pytest.raises(OriginUnreachableError) as raised:
        storage(fresh, "reset", retries=0).exists("file.txt")
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is OriginUnreachableError
    assert (str(copy), copy.layer, copy.url, copy.status) == (
        str(raised.value),
        f"HTTPStorage('{fresh.url}reset/')",
        f"{fresh.url}reset/file.txt",
        None,
    )


def test_a_500_is_an_error_naming_layer_and_status_and_is_not_retried(fresh: FaultServer) -> None:
    broken = storage(fresh, "status/500")
    with pytest.raises(HTTPOriginError) as raised:
        broken.exists("file.txt")
    assert not isinstance(raised.value, (ConnectionError, TimeoutError, FileNotFoundError))
    assert raised.value.status == 500
    assert str(raised.value) == (
        f"HTTPStorage('{fresh.url}status/500/') could not read 'file.txt' (HEAD "
        f"{fresh.url}status/500/file.txt answered 500 Internal Server Error); it expects 200, "
        f"or 404 for a missing file: check the origin, or the 'base_url' and 'prefix' options."
    )
    assert len(fresh.paths()) == 1


def test_a_503_is_retried_then_reported(fresh: FaultServer) -> None:
    busy = storage(fresh, "status/503", retries=2)
    with pytest.raises(HTTPOriginError, match=r"answered 503 Service Unavailable"):
        busy.open("file.txt")
    assert fresh.paths() == [("GET", "/status/503/file.txt")] * 3


def test_a_flaky_origin_is_read_after_retries(fresh: FaultServer) -> None:
    flaky = storage(fresh, "flaky/2", retries=2, backoff_factor=0.01)
    with flaky.open("file.txt") as handle:
        assert handle.read() == BODY
    assert fresh.paths() == [("GET", "/flaky/2/file.txt")] * 3


def test_retry_after_is_honoured_up_to_a_bound(
    fresh: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The origin asks for an hour; the wait is cut to MAX_WAIT (shortened here), so this ends.
    monkeypatch.setattr(http_client, "MAX_WAIT", 0.2)
    patient = storage(fresh, "retry-after/3600", retries=1)
    with pytest.raises(HTTPOriginError, match=r"answered 503"):
        finishes_within(BOUND, lambda: patient.exists("file.txt"))
    assert len(fresh.paths()) == 2


def test_a_truncated_body_is_an_error_not_a_short_file(fresh: FaultServer) -> None:
    truncated = storage(fresh, "truncated")
    with truncated.open("file.txt") as handle, pytest.raises(HTTPOriginError) as raised:
        handle.read()
    assert str(raised.value) == (
        f"HTTPStorage('{fresh.url}truncated/') broke off reading {fresh.url}truncated/file.txt: "
        f"the body ended after 5000 bytes, 5000 short of its Content-Length; the origin or a "
        f"proxy cut the transfer, try again."
    )


def test_a_redirect_loop_ends_after_the_bound(fresh: FaultServer) -> None:
    looping = storage(fresh, "loop")
    with pytest.raises(HTTPOriginError) as raised:
        finishes_within(BOUND, lambda: looping.exists("file.txt"))
    assert str(raised.value) == (
        f"HTTPStorage('{fresh.url}loop/') could not read {fresh.url}loop/file.txt: more than "
        f"{MAX_REDIRECTS} redirects (a redirect loop?); point 'base_url' at where the files "
        f"are served."
    )
    assert len(fresh.paths()) == MAX_REDIRECTS + 1


def test_credentials_are_not_sent_to_another_host_on_redirect(fresh: FaultServer) -> None:
    redirected = storage(fresh, "elsewhere", bearer_token="only-for-the-origin")
    assert redirected.exists("file.txt") is True
    first, second = fresh.received
    assert first.headers["Authorization"] == "Bearer only-for-the-origin"
    assert (second.path, second.headers["Host"]) == ("/ok/file.txt", f"localhost:{fresh.port}")
    assert "Authorization" not in second.headers


def test_a_partial_answer_to_a_whole_file_request_is_an_error(fresh: FaultServer) -> None:
    with pytest.raises(HTTPOriginError, match=r"answered 206 Partial Content\); it expects 200"):
        storage(fresh, "partial").open("file.txt")


def test_without_content_length_size_fails_but_open_measures(fresh: FaultServer) -> None:
    unsized = storage(fresh, "no-length")
    with pytest.raises(HTTPOriginError, match=r"sent no plain Content-Length for .*; open the"):
        unsized.size("file.txt")
    with unsized.open("file.txt") as handle:
        assert handle.size == len(BODY)
        assert handle.read() == BODY


def test_without_last_modified_the_modified_time_is_an_error(fresh: FaultServer) -> None:
    with pytest.raises(HTTPOriginError, match=r"was modified: the origin sent Last-Modified None"):
        storage(fresh, "no-length").get_modified_time("file.txt")
    ok = storage(fresh, "ok")
    assert ok.get_modified_time("file.txt").isoformat() == "2024-01-02T03:04:05+00:00"


def test_the_client_sends_no_other_method(fresh: FaultServer) -> None:
    client = storage(fresh, "ok").client
    for method in ("PUT", "POST", "DELETE", "PATCH", "OPTIONS", "get"):
        with pytest.raises(ValueError, match=f"refused to send {method} to .*only GET and HEAD"):
            client.request(method, f"{fresh.url}ok/file.txt")
    assert fresh.received == []


def test_a_file_closed_early_is_not_downloaded(fresh: FaultServer) -> None:
    size = 1024**3  # a gigabyte that is never sent whole
    large = storage(fresh, f"large/{size}")
    with large.open("video.bin") as handle:
        assert handle.size == size
        assert handle.read(1000) == bytes(large_byte(offset) for offset in range(1000))

    def stopped_sending() -> bool:
        while fresh.large_bytes_sent == 0:
            fresh.stopped.wait(0.01)
        return True

    finishes_within(BOUND, stopped_sending)
    # What the socket buffers took before the connection closed, not the file.
    assert fresh.large_bytes_sent < 64 * 1024**2


def test_a_large_file_is_copied_without_being_held_in_memory(
    fresh: FaultServer, tmp_path: Path
) -> None:
    size = 48 * 1024**2
    large = storage(fresh, f"large/{size}")
    local = FileSystemStorage(location=str(tmp_path))
    tracemalloc.start()
    try:
        copied = copying.copy_file(large, "video.bin", local)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert copied == size
    assert (tmp_path / "video.bin").stat().st_size == size
    with open(tmp_path / "video.bin", "rb") as written:
        written.seek(size - 256)
        assert written.read() == bytes(range(256))
    assert peak < 4 * 1024**2, f"{peak} bytes were held at once"


def test_fallback_storage_reads_local_files_while_the_origin_is_down(
    fresh: FaultServer, tmp_path: Path
) -> None:
    local = FileSystemStorage(location=str(tmp_path))
    (tmp_path / "local.txt").write_bytes(b"local")
    down = HTTPStorage(base_url=f"http://127.0.0.1:{free_port()}/", retries=0)
    storage = FallbackStorage(backends=[local, down])
    with storage.open("local.txt") as handle:
        assert handle.read() == b"local"
    assert storage.exists("local.txt") is True
    with pytest.raises(ConnectionError) as raised:
        storage.open("production-only.txt")
    notes = getattr(raised.value, "__notes__", [])
    assert any("backend 1 (HTTPStorage)" in note for note in notes), notes
