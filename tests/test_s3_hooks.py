"""The class-level hooks of fallback_storage.s3_hooks, one by one, and which bucket they protect.

Each hook is proved alone: a client event handler changes the request after the hooks before it
looked (what a careless customization could do), and the next hook still refuses it. CRT
transfers are proved through the real awscrt transfer manager. The ground truth is the bucket's
state read with a separate client and the moto server's access log (``production.py``).
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import boto3.crt
import boto3.s3.inject
import production as shared
import pytest
from boto3.s3.transfer import S3Transfer, TransferConfig, create_transfer_manager
from botocore.exceptions import ClientError
from production import BACKEND, BUCKET, SEED, Production, make_storage
from s3transfer.crt import CRTTransferManager
from storages.backends.s3 import S3Storage

from fallback_storage import ReadOnlyStorage, ReadOnlyStorageError, protection, s3_guard, s3_hooks
from fallback_storage.s3_operations import endpoint_of

moto_server = shared.moto_server


def fix(backend: str = BACKEND) -> str:
    return (
        f"{backend} is wrapped in ReadOnlyStorage, which keeps its bucket read-only in this "
        f"whole process, so write to a writable layer or to another bucket."
    )


@pytest.fixture
def over_http(moto_server: str) -> Iterator[Production]:
    """The seeded "production" bucket on the module's moto server, protected."""
    for production in shared.over_http(moto_server):
        production.before = production.snapshot()
        s3_guard.protect(production.storage)
        yield production


_made: list[Any] = []


def new_client(endpoint_url: str | None = None, **options: Any) -> Any:
    """A boto3 client built after protection, with nothing of the protected storage's."""
    client = boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url=endpoint_url, **options
    )
    _made.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_new_clients() -> Iterator[None]:
    """Close the test's clients at its end, not whenever the collector gets to their sockets."""
    yield
    while _made:
        _made.pop().close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# -- which bucket: the endpoint identity --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        None,
        "https://s3.amazonaws.com",
        "https://s3.eu-west-1.amazonaws.com",
        "https://s3.dualstack.us-east-1.amazonaws.com",
        "https://s3-accelerate.amazonaws.com",
        "https://s3-accelerate.dualstack.amazonaws.com",
        "https://s3-fips.us-east-1.amazonaws.com",
        "https://bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com",
        "https://s3.cn-north-1.amazonaws.com.cn",
        "https://s3.us-east-1.api.aws",
        "HTTPS://S3.AMAZONAWS.COM./",
    ],
)
def test_every_amazon_s3_endpoint_is_aws(url: str | None) -> None:
    assert endpoint_of(url) == "aws"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"s3": {"use_accelerate_endpoint": True}},
        {"s3": {"use_dualstack_endpoint": True}},
        {"use_fips_endpoint": True},
    ],
    ids=["default", "accelerate", "dualstack", "fips"],
)
def test_clients_of_amazon_s3_have_the_aws_identity(config: dict[str, Any]) -> None:
    from botocore.config import Config

    client = new_client(config=Config(**config))
    assert endpoint_of(client.meta.endpoint_url) == "aws"


def test_a_custom_endpoint_is_its_host_and_port_however_spelled() -> None:
    same = {
        endpoint_of(url)
        for url in (
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "http://LOCALHOST:9000/",
            "http://127.0.0.2:9000/path",
            "http://[::1]:9000",
            "127.0.0.1:9000",
        )
    }
    assert same == {"loopback:9000"}
    assert endpoint_of("http://127.0.0.1:9001") == "loopback:9001"
    assert endpoint_of("https://minio.example") == "minio.example:443"
    assert endpoint_of("http://minio.example") == "minio.example:80"
    assert endpoint_of("https://minio.example:443/") == "minio.example:443"
    assert endpoint_of("https://amazonaws.com.example") == "amazonaws.com.example:443"
    assert endpoint_of("https://minio.example:port") == "minio.example:443"  # no valid port


def test_localhost_and_127_0_0_1_are_the_same_protected_endpoint(
    over_http: Production,
) -> None:
    endpoint = over_http.options["endpoint_url"]
    assert "127.0.0.1" in endpoint
    client = new_client(endpoint.replace("127.0.0.1", "localhost"))
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"x")
    assert caught.value.bucket == BUCKET
    assert client.get_object(Bucket=BUCKET, Key="a.txt")["Body"].read() == SEED["a.txt"]
    over_http.assert_untouched()


@pytest.fixture(scope="module")
def other_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second moto server in a process of its own (moto's servers in one process share state)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path_factory.mktemp("other-moto") / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)
    log.close()


def test_a_bucket_of_the_same_name_on_another_server_stays_writable(
    over_http: Production, other_server: str
) -> None:
    elsewhere = new_client(other_server)
    elsewhere.create_bucket(Bucket=BUCKET)
    elsewhere.put_object(Bucket=BUCKET, Key="a.txt", Body=b"another server's a")
    elsewhere.delete_object(Bucket=BUCKET, Key="a.txt")
    elsewhere.put_object(Bucket=BUCKET, Key="kept.txt", Body=b"kept")
    listing = elsewhere.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [item["Key"] for item in listing] == ["kept.txt"]
    with pytest.raises(ReadOnlyStorageError):
        new_client(over_http.options["endpoint_url"]).put_object(
            Bucket=BUCKET, Key="kept.txt", Body=b"x"
        )
    over_http.assert_untouched()


def test_a_bucket_on_aws_is_not_the_bucket_of_the_same_name_on_a_custom_endpoint(
    over_http: Production,
) -> None:
    assert not s3_guard.is_protected(make_storage(bucket_name=unique("production-on-aws")))
    assert s3_guard.is_protected(over_http.storage)
    mine = protection.protected_containers("s3")
    assert (
        protection.Container("s3", endpoint_of(over_http.options["endpoint_url"]), BUCKET) in mine
    )


def test_the_endpoint_the_client_really_uses_is_protected_too(
    over_http: Production, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No endpoint_url setting: the client goes where AWS_ENDPOINT_URL_S3 says.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", over_http.options["endpoint_url"])
    bucket = unique("from-the-environment")
    with protection.seeding(bucket):
        over_http.raw_client.create_bucket(Bucket=bucket)
        over_http.raw_client.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    storage = S3Storage(bucket_name=bucket, region_name="us-east-1")
    assert storage.endpoint_url is None
    ReadOnlyStorage(storage)
    with pytest.raises(ReadOnlyStorageError):
        new_client(over_http.options["endpoint_url"]).delete_object(Bucket=bucket, Key="a.txt")
    assert over_http.raw_client.head_object(Bucket=bucket, Key="a.txt")["ContentLength"] == 1


# -- the parameter check (BaseClient._emit_api_params) ------------------------------------------


def test_the_parameter_check_sees_what_the_clients_own_handlers_made_of_the_parameters(
    over_http: Production,
) -> None:
    client = new_client(over_http.options["endpoint_url"])

    def into_production(params: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**params, "Bucket": BUCKET}

    client.meta.events.register("provide-client-params.s3.PutObject", into_production)
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.put_object(Bucket="somewhere-else", Key="a.txt", Body=b"x")
    assert str(caught.value) == (
        f"S3 operation 'PutObject' on 's3://production/a.txt' was refused; {fix()}"
    )
    over_http.assert_untouched()


def test_create_session_is_refused_unless_read_only(over_http: Production) -> None:
    client = new_client(over_http.options["endpoint_url"])
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.create_session(Bucket=BUCKET)
    assert caught.value.operation == "CreateSession"
    with pytest.raises(ReadOnlyStorageError):
        client.create_session(Bucket=BUCKET, SessionMode="ReadWrite")
    assert [url for _, url in over_http.requests() if "session" in url] == []
    # Read-only session credentials cannot write: the request goes out, whatever moto answers.
    with contextlib.suppress(ClientError):
        client.create_session(Bucket=BUCKET, SessionMode="ReadOnly")
    assert [method for method, url in over_http.requests() if "session" in url] == ["GET"]
    over_http.assert_untouched()


@pytest.mark.parametrize(
    "access_point",
    [
        "arn:aws:s3:us-east-1:123456789012:accesspoint/production-ap",
        "production-ap-0a1b2c3d-s3alias",
    ],
    ids=["arn", "alias"],
)
def test_a_write_through_an_access_point_is_refused_while_a_bucket_is_protected(
    access_point: str,
) -> None:
    s3_guard.protect(make_storage(bucket_name=unique("behind-an-access-point")))
    client = new_client()
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.put_object(Bucket=access_point, Key="a.txt", Body=b"x")
    assert str(caught.value).startswith(
        f"S3 operation 'PutObject' on 's3://{access_point}/a.txt' (an access point, which may "
        f"reach a protected bucket) was refused; "
    )


def test_operations_of_no_bucket_and_other_services_pass(over_http: Production) -> None:
    client = new_client(over_http.options["endpoint_url"])
    assert BUCKET in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]
    sts = boto3.session.Session().client("sts", region_name="us-east-1")
    assert "Action=GetCallerIdentity" in sts.generate_presigned_url("get_caller_identity")
    over_http.assert_untouched()


def test_presigning_through_botocores_internals_is_refused_unless_it_reads(
    over_http: Production,
) -> None:
    from botocore.signers import S3PostPresigner

    client = new_client(over_http.options["endpoint_url"])
    _, put = request_dict(client, "PutObject", {"Bucket": BUCKET, "Key": "a.txt"})
    with pytest.raises(ReadOnlyStorageError, match="^Presigned PUT URL for S3 operation 'PutObj"):
        client._request_signer.generate_presigned_url(put, "PutObject")
    with pytest.raises(ReadOnlyStorageError, match="^Presigned POST for S3 operation 'PutObject"):
        S3PostPresigner(client._request_signer).generate_presigned_post(
            put, fields={"key": "a.txt"}
        )
    _, get = request_dict(client, "GetObject", {"Bucket": BUCKET, "Key": "a.txt"})
    url = client._request_signer.generate_presigned_url(get, "GetObject")
    with urllib.request.urlopen(url) as response:
        assert response.read() == SEED["a.txt"]
    over_http.assert_untouched()


# -- the HTTP check (Endpoint.make_request) -----------------------------------------------------


def test_the_http_check_refuses_a_method_changed_after_the_parameter_check(
    over_http: Production,
) -> None:
    client = new_client(over_http.options["endpoint_url"])

    def to_put(params: dict[str, Any], **_: Any) -> None:
        params["method"] = "PUT"

    client.meta.events.register("before-call.s3.GetObject", to_put)
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.get_object(Bucket=BUCKET, Key="a.txt")
    assert str(caught.value) == (
        f"HTTP PUT request for S3 operation 'GetObject' on 's3://production/a.txt' was "
        f"refused; {fix()}"
    )
    over_http.assert_untouched()


def request_dict(client: Any, operation: str, params: dict[str, Any]) -> tuple[Any, Any]:
    """The request botocore would send, built without passing the parameter check."""
    model = client.meta.service_model.operation_model(operation)
    context = {"client_region": "us-east-1", "client_config": client.meta.config}
    # Path-style, on the client's endpoint: the bucket is the first part of the path.
    return model, client._convert_to_request_dict(
        params, model, endpoint_url=client.meta.endpoint_url, context=context
    )


def test_a_request_that_skipped_the_parameter_check_is_sent_only_if_it_reads(
    over_http: Production,
) -> None:
    client = new_client(over_http.options["endpoint_url"])
    model, put = request_dict(client, "PutObject", {"Bucket": BUCKET, "Key": "a.txt", "Body": b"x"})
    with pytest.raises(ReadOnlyStorageError) as caught:
        client._endpoint.make_request(model, put)
    # Its bucket is unknown, so the refusal names neither it nor a protecting storage, which
    # would be whichever bucket this process happened to protect first.
    assert str(caught.value) == (
        "HTTP PUT request for S3 operation 'PutObject' was refused; its bucket cannot be told "
        "from the request, and ReadOnlyStorage keeps buckets read-only in this whole process, "
        "so write to a writable layer or to another bucket."
    )
    model, get = request_dict(client, "GetObject", {"Bucket": BUCKET, "Key": "a.txt"})
    response, _ = client._endpoint.make_request(model, get)
    assert response.status_code == 200
    assert response.content == b"production a"  # read, so the connection goes back to the pool
    over_http.assert_untouched()


# -- the signing check (RequestSigner.sign) -----------------------------------------------------


@pytest.mark.parametrize(
    ("event", "first"),
    [("request-created.s3.GetObject", True), ("before-sign.s3.GetObject", False)],
    ids=["before signing", "while signing"],
)
def test_the_signing_check_refuses_a_method_changed_after_the_http_check(
    over_http: Production, event: str, first: bool
) -> None:
    client = new_client(over_http.options["endpoint_url"])

    def to_delete(request: Any, **_: Any) -> None:
        request.method = "DELETE"

    register = client.meta.events.register_first if first else client.meta.events.register
    register(event, to_delete)
    with pytest.raises(ReadOnlyStorageError) as caught:
        client.get_object(Bucket=BUCKET, Key="a.txt")
    assert str(caught.value) == (
        f"Signed HTTP DELETE request for S3 operation 'GetObject' on 's3://production/a.txt' "
        f"was refused; {fix()}"
    )
    over_http.assert_untouched()


def test_a_presigned_url_whose_method_is_changed_while_signing_is_refused(
    over_http: Production,
) -> None:
    client = new_client(over_http.options["endpoint_url"])

    def to_put(request: Any, **_: Any) -> None:
        request.method = "PUT"

    client.meta.events.register("before-sign.s3.GetObject", to_put)
    with pytest.raises(ReadOnlyStorageError, match="^Presigned PUT URL for S3 operation 'GetObj"):
        client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "a.txt"})


def test_hooks_are_installed_once_and_reported_gone_when_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.client import BaseClient

    storage = make_storage(bucket_name=unique("hooks"))
    s3_guard.protect(storage)
    hooked = BaseClient.__dict__["_emit_api_params"]
    s3_hooks.install()
    assert BaseClient.__dict__["_emit_api_params"] is hooked
    assert s3_guard.is_protected(storage)
    # Code that removes a hook defeats the guard; is_protected() then says so.
    monkeypatch.setattr(BaseClient, "_emit_api_params", hooked.__wrapped__)
    assert not s3_hooks.installed()
    assert not s3_guard.is_protected(storage)


# -- CRT transfers (s3transfer.crt) ---------------------------------------------------------------


class NoNetworkCRTClient:
    """Stands in for the awscrt S3 client: records each request it is handed, sends none.

    The CRT transfer manager sends to Amazon S3 itself, whatever endpoint the caller's client
    has, and tests have no network; what reaches here is what would have been sent.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def make_request(self, *, request: Any, **_: Any) -> Any:
        self.requests.append((request.method, f"{request.headers.get('host')}{request.path}"))
        raise ConnectionRefusedError("the test stopped this CRT request before the network")


@pytest.fixture
def crt(monkeypatch: pytest.MonkeyPatch) -> NoNetworkCRTClient:
    """Fresh CRT singletons for the test, with the network side recorded instead of used."""
    stand_in = NoNetworkCRTClient()
    monkeypatch.setattr(boto3.crt, "CRT_S3_CLIENT", None)
    monkeypatch.setattr(boto3.crt, "BOTOCORE_CRT_SERIALIZER", None)
    # One lock per test process: another process using the CRT must not send us to classic.
    monkeypatch.setattr(boto3.crt, "PROCESS_LOCK_NAME", f"fallback-storage-tests-{os.getpid()}")
    create = boto3.crt._create_crt_s3_client  # type: ignore[attr-defined]

    def create_without_network(*args: Any, **kwargs: Any) -> Any:
        client = create(*args, **kwargs)
        client.crt_client = stand_in
        return client

    monkeypatch.setattr(boto3.crt, "_create_crt_s3_client", create_without_network)
    return stand_in


CRT_CONFIG = TransferConfig(preferred_transfer_client="crt")


def crt_manager(client: Any) -> Any:
    manager: Any = create_transfer_manager(client, CRT_CONFIG)
    assert isinstance(manager, CRTTransferManager)  # the CRT path, not classic
    return manager


def crt_upload_file(client: Any, bucket: str, tmp_path: Path) -> None:
    path = tmp_path / "upload.txt"
    path.write_bytes(b"by crt")
    transfer: Any = S3Transfer(client, CRT_CONFIG)  # type: ignore[arg-type]
    assert isinstance(transfer._manager, CRTTransferManager)
    transfer.upload_file(str(path), bucket, "a.txt")


CRT_WRITES: dict[str, tuple[str, Callable[[Any, str, Path], object]]] = {
    "create_transfer_manager().upload": (
        "PutObject",
        lambda c, b, _: crt_manager(c).upload(io.BytesIO(b"by crt"), b, "a.txt").result(),
    ),
    "create_transfer_manager().delete": (
        "DeleteObject",
        lambda c, b, _: crt_manager(c).delete(b, "a.txt").result(),
    ),
    "S3Transfer.upload_file": ("PutObject", crt_upload_file),
    "boto3.s3.inject.upload_fileobj": (
        "PutObject",
        lambda c, b, _: boto3.s3.inject.upload_fileobj(
            c, io.BytesIO(b"by crt"), b, "a.txt", Config=CRT_CONFIG
        ),
    ),
    "client.upload_fileobj": (
        "PutObject",
        lambda c, b, _: c.upload_fileobj(io.BytesIO(b"by crt"), b, "a.txt", Config=CRT_CONFIG),
    ),
}


@pytest.mark.parametrize("write", CRT_WRITES, ids=list(CRT_WRITES))
def test_crt_transfers_to_a_protected_bucket_are_refused(
    over_http: Production, crt: NoNetworkCRTClient, write: str, tmp_path: Path
) -> None:
    operation, action = CRT_WRITES[write]
    with pytest.raises(ReadOnlyStorageError) as caught:
        action(over_http.storage.connection.meta.client, BUCKET, tmp_path)
    assert caught.value.operation == operation
    assert caught.value.backend == BACKEND
    # Refused inside the CRT manager's request serializer, before the CRT client had it.
    frames = [frame.f_code.co_name for frame, _ in traceback.walk_tb(caught.value.__traceback__)]
    assert "serialize_http_request" in frames
    assert crt.requests == []
    over_http.assert_untouched()


def test_crt_transfers_of_a_bucket_protected_on_aws_are_refused(
    crt: NoNetworkCRTClient, tmp_path: Path
) -> None:
    bucket = unique("crt-on-aws")
    ReadOnlyStorage(make_storage(bucket_name=bucket))
    client = new_client()
    for _, action in CRT_WRITES.values():
        with pytest.raises(ReadOnlyStorageError):
            action(client, bucket, tmp_path)
    assert crt.requests == []


def test_crt_transfers_of_an_unprotected_bucket_reach_the_crt_client(
    over_http: Production, crt: NoNetworkCRTClient, tmp_path: Path
) -> None:
    # The control: the same calls for a bucket nobody protects go out, to Amazon S3.
    bucket = unique("crt-unprotected")
    client = over_http.storage.connection.meta.client
    for _, action in CRT_WRITES.values():
        with pytest.raises(ConnectionRefusedError):
            action(client, bucket, tmp_path)
    assert [method for method, _ in crt.requests] == ["PUT", "DELETE", "PUT", "PUT", "PUT"]
    hosts = {url.split("/")[0] for _, url in crt.requests}
    assert len(hosts) == 1
    assert hosts.pop() in {f"{bucket}.s3.amazonaws.com", f"{bucket}.s3.us-east-1.amazonaws.com"}
    over_http.assert_untouched()
