"""fallback_storage.testing and its pytest plugin catch real writes and stay quiet on reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from moto import mock_aws
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from fallback_storage import ReadOnlyStorageError
from fallback_storage.exceptions import BucketChangedError, BucketTouchedError
from fallback_storage.storage import FallbackStorage, ReadOnlyStorage
from fallback_storage.testing import BucketGuard, BucketSnapshot, bucket_unchanged, seeding

pytest_plugins = ["pytester"]

PROD = "prod-media"
DEV = "dev-media"
HERE = Path(__file__).name


def seed(client: Any) -> None:
    for bucket in (PROD, DEV):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=PROD, Key="a.txt", Body=b"production a")
    client.put_object(Bucket=PROD, Key="dir/b.txt", Body=b"production b")


def keys(client: Any, bucket: str = PROD) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture
def client() -> Iterator[Any]:
    """An S3 client on mock_aws, created (and the buckets seeded) before any guard."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        seed(s3)
        yield s3


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def http_client(moto_server: str) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    for bucket in (PROD, DEV):
        for key in keys(s3, bucket) if bucket in _buckets(s3) else []:
            s3.delete_object(Bucket=bucket, Key=key)
    for bucket in (PROD, DEV):
        if bucket in _buckets(s3):
            s3.delete_bucket(Bucket=bucket)
    seed(s3)
    return s3


def _buckets(client: Any) -> list[str]:
    return [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]


# -- BucketGuard ------------------------------------------------------------------------


def test_guard_refuses_and_reports_a_write_from_a_client_created_before_it(client: Any) -> None:
    refused = "'PutObject' on 's3://prod-media/new.txt'"
    with (
        pytest.raises(BucketTouchedError) as caught,
        BucketGuard(PROD),
        pytest.raises(ReadOnlyStorageError, match=refused),
    ):
        client.put_object(Bucket=PROD, Key="new.txt", Body=b"oops")

    report = str(caught.value)
    assert report.splitlines()[0] == (
        "1 S3 request(s) that are not reads reached guarded bucket(s) 'prod-media'; make the "
        "code under test write elsewhere, e.g. wrap the production backend in "
        "fallback_storage.storage.ReadOnlyStorage."
    )
    assert "  PutObject s3://prod-media/new.txt (called from " in report
    assert f"{HERE}:" in report
    assert "in test_guard_refuses_and_reports_a_write_from_a_client_created_before_it" in report
    assert "botocore" not in report
    assert [request.operation for request in caught.value.requests] == ["PutObject"]  # type: ignore[attr-defined]
    assert keys(client) == ["a.txt", "dir/b.txt"]  # refused before it was sent


def test_guard_stays_quiet_on_reads_and_records_them(client: Any) -> None:
    with BucketGuard(PROD) as guard:
        assert client.get_object(Bucket=PROD, Key="a.txt")["Body"].read() == b"production a"
        client.head_object(Bucket=PROD, Key="dir/b.txt")
        assert keys(client) == ["a.txt", "dir/b.txt"]
        client.put_object(Bucket=DEV, Key="a.txt", Body=b"dev")  # another bucket

    assert [(r.operation, r.keys) for r in guard.requests] == [
        ("GetObject", ("a.txt",)),
        ("HeadObject", ("dir/b.txt",)),
        ("ListObjectsV2", ()),
    ]
    assert guard.writes == []
    assert keys(client, DEV) == ["a.txt"]


def test_guard_with_block_false_lets_the_write_through_and_still_fails(client: Any) -> None:
    with (
        pytest.raises(BucketTouchedError, match="DeleteObjects s3://prod-media/a.txt, s3://"),
        BucketGuard(PROD, block=False),
    ):
        client.delete_objects(
            Bucket=PROD, Delete={"Objects": [{"Key": "a.txt"}, {"Key": "dir/b.txt"}]}
        )
    assert keys(client) == []


def test_guard_fails_even_when_the_code_under_test_swallows_the_refusal(
    client: Any, tmp_path: Path
) -> None:
    # An unwrapped S3 backend first: FallbackStorage treats the refusal as a
    # failure and saves locally, so only the guard notices the attempt.
    storage = FallbackStorage(
        backends=[S3Storage(bucket_name=PROD), FileSystemStorage(location=str(tmp_path))]
    )
    with pytest.raises(BucketTouchedError) as caught, BucketGuard(PROD):
        assert storage.save("upload.txt", ContentFile(b"new")) == "upload.txt"

    assert "PutObject s3://prod-media/upload.txt" in str(caught.value)
    assert "in test_guard_fails_even_when_the_code_under_test_swallows_the_refusal" in str(
        caught.value
    )
    assert (tmp_path / "upload.txt").read_bytes() == b"new"
    assert keys(client) == ["a.txt", "dir/b.txt"]


def test_guard_is_quiet_for_a_fallback_storage_with_a_read_only_production_layer(
    client: Any, tmp_path: Path
) -> None:
    # ReadOnlyStorage protects its bucket for the rest of the process: one of this test's own,
    # so PROD stays writable for the tests that write to it on purpose.
    bucket = "read-only-prod-media"
    with seeding(bucket):
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="a.txt", Body=b"production a")
    storage = FallbackStorage(
        backends=[
            FileSystemStorage(location=str(tmp_path)),
            ReadOnlyStorage(S3Storage(bucket_name=bucket)),
        ]
    )
    with BucketGuard(bucket) as guard:
        with storage.open("a.txt") as file:
            assert file.read() == b"production a"
        storage.save("a.txt", ContentFile(b"local"))
        storage.delete("a.txt")
    assert guard.reads and not guard.writes


def test_guard_works_as_a_decorator(client: Any) -> None:
    @BucketGuard(PROD)
    def upload() -> None:
        client.copy_object(Bucket=PROD, Key="copy.txt", CopySource={"Bucket": PROD, "Key": "a.txt"})

    with pytest.raises(BucketTouchedError, match="CopyObject s3://prod-media/copy.txt"):
        upload()


def test_guard_needs_a_bucket_name() -> None:
    with pytest.raises(ValueError, match=r"BucketGuard needs bucket names, got \(\)"):
        BucketGuard()


def test_guard_over_http_against_a_moto_server(http_client: Any) -> None:
    with BucketGuard(PROD) as guard:
        assert http_client.get_object(Bucket=PROD, Key="a.txt")["Body"].read() == b"production a"
    assert [request.operation for request in guard.requests] == ["GetObject"]

    with (
        pytest.raises(BucketTouchedError, match="DeleteObject s3://prod-media/a.txt"),
        BucketGuard(PROD),
        pytest.raises(ReadOnlyStorageError),
    ):
        http_client.delete_object(Bucket=PROD, Key="a.txt")
    assert keys(http_client) == ["a.txt", "dir/b.txt"]


# -- BucketSnapshot ---------------------------------------------------------------------


def test_snapshot_reports_every_added_removed_and_changed_key(client: Any) -> None:
    with pytest.raises(BucketChangedError) as caught, bucket_unchanged(PROD, client=client):
        client.put_object(Bucket=PROD, Key="new.txt", Body=b"12345")
        client.delete_object(Bucket=PROD, Key="dir/b.txt")
        client.put_object(Bucket=PROD, Key="a.txt", Body=b"changed!")

    lines = str(caught.value).splitlines()
    assert lines[0] == (
        "3 key(s) of 's3://prod-media/' changed since the snapshot; find the code that "
        "writes there and point it at another bucket."
    )
    assert lines[1].startswith("  changed a.txt (etag ")
    assert "size 12 -> 8" in lines[1]
    assert lines[2].startswith("  removed dir/b.txt (ETag ")
    assert lines[3].startswith("  added   new.txt (ETag ") and lines[3].endswith(", 5 bytes)")
    assert len(caught.value.differences) == 3


def test_snapshot_is_quiet_after_reads_and_sees_only_its_prefix(client: Any) -> None:
    snapshot = BucketSnapshot.take(PROD, prefix="dir/", client=client)
    assert list(snapshot.objects) == ["dir/b.txt"]
    client.get_object(Bucket=PROD, Key="dir/b.txt")
    client.put_object(Bucket=PROD, Key="outside.txt", Body=b"not under the prefix")
    snapshot.assert_unchanged()


def test_snapshot_over_http_with_the_default_client(
    http_client: Any, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    snapshot = BucketSnapshot.take(PROD)
    http_client.put_object(Bucket=PROD, Key="a.txt", Body=b"production A")  # same size
    # LastModified may tick over a second boundary too; the ETag change is what must show.
    with pytest.raises(
        BucketChangedError, match=r"changed a.txt \(etag \S+ -> \S+(; last_modified .+)?\)$"
    ):
        snapshot.assert_unchanged()


# -- the pytest plugin -------------------------------------------------------------------

INNER_TESTS = """
    import boto3
    import pytest
    from moto import mock_aws

    @pytest.fixture
    def s3():
        with mock_aws():
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket="prod-media")
            client.put_object(Bucket="prod-media", Key="a.txt", Body=b"a")
            yield client

    {marker}
    def test_reads(s3):
        assert s3.get_object(Bucket="prod-media", Key="a.txt")["Body"].read() == b"a"

    {marker}
    def test_writes(s3):
        try:
            s3.put_object(Bucket="prod-media", Key="b.txt", Body=b"b")
        except PermissionError:
            pass  # swallowed: the plugin must still fail the test
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "fallback_storage.pytest_plugin", *args)


def test_plugin_marker_fails_the_test_that_writes(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker='@pytest.mark.untouched_buckets("prod-media")'))
    result = run(inner, "--strict-markers")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*BucketTouchedError: 1 S3 request(s) that are not reads reached guarded bucket(s)*",
            "*PutObject s3://prod-media/b.txt (called from test_plugin_*.py:* in test_writes*",
            "FAILED *::test_writes - *",
        ]
    )


def test_plugin_without_marker_or_option_guards_nothing(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker=""))
    run(inner).assert_outcomes(passed=2)


def test_plugin_option_guards_every_test_including_fixtures(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker=""))
    result = run(inner, "--untouched-bucket", "other", "--untouched-bucket", "prod-media")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*guarded bucket(s) 'other', 'prod-media'*",
            "*CreateBucket s3://prod-media (called from *.py:* in s3, thread 'MainThread')",
        ]
    )


def test_plugin_ini_option_guards_every_test(inner: pytest.Pytester) -> None:
    inner.makeini("[pytest]\nuntouched_buckets = prod-media\n")
    inner.makepyfile(INNER_TESTS.format(marker=""))
    run(inner).assert_outcomes(errors=2)


def test_plugin_marker_without_names_is_a_usage_error(inner: pytest.Pytester) -> None:
    inner.makepyfile(INNER_TESTS.format(marker="@pytest.mark.untouched_buckets()"))
    result = run(inner)
    result.stdout.fnmatch_lines(["*@pytest.mark.untouched_buckets() on *names no bucket*"])
    assert result.ret != 0


def test_plugin_fixtures_against_a_moto_server(
    inner: pytest.Pytester, http_client: Any, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    inner.makepyfile(
        """
        import boto3

        def test_reads(production_guard, bucket_snapshot):
            guard = production_guard("prod-media")
            bucket_snapshot("prod-media")
            boto3.client("s3").get_object(Bucket="prod-media", Key="a.txt")
            assert [r.operation for r in guard.reads] == ["ListObjectsV2", "GetObject"]

        def test_guard_sees_a_write(production_guard):
            production_guard("prod-media", block=False)
            boto3.client("s3").put_object(Bucket="prod-media", Key="g.txt", Body=b"g")

        def test_snapshot_sees_a_write(bucket_snapshot):
            bucket_snapshot("prod-media")
            boto3.client("s3").put_object(Bucket="prod-media", Key="s.txt", Body=b"s")
        """
    )
    result = run(inner)
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_guard_sees_a_write*",
            "E * PutObject s3://prod-media/g.txt (called from *.py:11 in test_guard_sees_a_write*",
            "*ERROR at teardown of test_snapshot_sees_a_write*",
            "E * added   s.txt (ETag *, 1 bytes)",
        ]
    )
    assert keys(http_client) == ["a.txt", "dir/b.txt", "g.txt", "s.txt"]


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    entry_point = pyproject["project"]["entry-points"]["pytest11"]["fallback_storage"]
    assert entry_point == "fallback_storage.pytest_plugin"
