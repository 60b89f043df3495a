"""How the Azure and Google Cloud Storage guards read a request: which container, which endpoint.

These are the identity rules of ``docs/security.rst``: the same container spelled another way
is the same container, the same name on another endpoint (or account) is another container.
The guards' behaviour against real emulators is in test_azure_guard.py and test_gcs_guard.py.
"""

from __future__ import annotations

import uuid

import pytest

from fallback_storage import azure_requests, gcs_guard, gcs_requests, protection
from fallback_storage.exceptions import ReadOnlyStorageError


def azure(
    method: str, url: str, headers: dict[str, str] | None = None, body: object = None
) -> list[tuple[str, str, str | None, bool]]:
    return [
        (target.endpoint, target.container, target.blob, target.is_read)
        for target in azure_requests.targets(method, url, headers or {}, body)
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://acct.blob.core.windows.net/media/a.txt",
        "https://ACCT.BLOB.CORE.WINDOWS.NET:443/MEDIA/a.txt",
        "https://acct.blob.core.windows.net./media/a.txt",
        "https://acct-secondary.blob.core.windows.net/media/a.txt",
        "https://acct.privatelink.blob.core.windows.net/media/a.txt",
        "https://acct.z12.blob.storage.azure.net/media/a.txt",
        "https://acct.dfs.core.windows.net/media/a.txt",
        "https://acct.blob.core.windows.net/media/a.txt?sv=2024&sig=x&comp=metadata",
    ],
)
def test_azure_cloud_spellings_are_one_container(url: str) -> None:
    assert azure("PUT", url)[-1] == ("acct.blob.core.windows.net", "media", "a.txt", False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:10000/devstoreaccount1/media/a.txt",
        "http://localhost:10000/devstoreaccount1/media/a.txt",
        "http://LOCALHOST:10000/devstoreaccount1/media/a.txt",
        "http://[::1]:10000/devstoreaccount1/media/a.txt",
        "http://devstoreaccount1.blob.localhost:10000/media/a.txt",
    ],
)
def test_azurite_spellings_are_one_container(url: str) -> None:
    (endpoint, container, blob, _), *_ = azure("PUT", url)[-1:]
    assert (container, blob) == ("media", "a.txt")
    assert endpoint in {"loopback:10000/devstoreaccount1", "devstoreaccount1.blob.loopback:10000"}


@pytest.mark.parametrize(
    "url",
    [
        "https://acct.blob.core.chinacloudapi.cn/media/a.txt",
        "https://acct.blob.core.usgovcloudapi.net/media/a.txt",
        "https://other.blob.core.windows.net/media/a.txt",
        "https://acct.blob.local.azurestack.external/media/a.txt",
        "http://127.0.0.1:10001/devstoreaccount1/media/a.txt",
        "http://127.0.0.1:10000/otheraccount/media/a.txt",
    ],
)
def test_other_clouds_accounts_and_endpoints_are_other_containers(url: str) -> None:
    public = azure("PUT", "https://acct.blob.core.windows.net/media/a.txt")[-1][0]
    azurite = azure("PUT", "http://127.0.0.1:10000/devstoreaccount1/media/a.txt")[-1][0]
    assert azure("PUT", url)[-1][0] not in {public, azurite}


def test_encoded_slashes_separate_like_slashes() -> None:
    assert azure("PUT", "https://acct.blob.core.windows.net/media%2Fa.txt")[-1][1:3] == (
        "media",
        "a.txt",
    )
    assert gcs("PUT", "https://storage.googleapis.com/media%2Fa.txt")[0][1:3] == ("media", "a.txt")
    assert gcs("DELETE", "https://storage.googleapis.com/storage/v1/b/media%2Fo/o/a")[0][1] == (
        "media"
    )


def test_container_at() -> None:
    found = azure_requests.container_at("https://acct.blob.core.windows.net/media?sv=1&sig=x")
    assert found == (protection.Container("azure", "acct.blob.core.windows.net", "media"), "acct")
    assert azure_requests.container_at("https://cdn.example.com/media") is None
    assert azure_requests.container_at("https://acct.blob.core.windows.net/") is None
    assert azure_requests.container_at("not a url") is None


def test_azure_reads() -> None:
    url = "https://acct.blob.core.windows.net/media/a.txt"
    assert azure("GET", url)[-1][3] is True
    assert azure("HEAD", url)[-1][3] is True
    assert azure("POST", f"{url}?comp=query")[-1][3] is True
    assert azure("POST", f"{url}?comp=batch")[-1][3] is False
    assert azure("GET", url, {"X-HTTP-Method-Override": "DELETE"})[-1][3] is False
    assert azure("PUT", f"{url}?comp=metadata")[-1][3] is False


def test_azure_root_container_and_renames() -> None:
    # A one-segment path is a blob of the $root container.
    assert ("acct.blob.core.windows.net", "$root", "a.txt", False) in azure(
        "DELETE", "https://acct.blob.core.windows.net/a.txt"
    )
    renamed = azure(
        "PUT",
        "https://acct.blob.core.windows.net/new?restype=container&comp=rename",
        {"x-ms-source-container-name": "Media"},
    )
    assert ("acct.blob.core.windows.net", "media", None, False) in renamed
    moved = azure(
        "PUT",
        "https://acct.dfs.core.windows.net/dev/x",
        {"x-ms-rename-source": "/media/dir/a.txt?sig=x"},
    )
    assert ("acct.blob.core.windows.net", "media", "dir/a.txt", False) in moved


def test_azure_batch_parts() -> None:
    body = (
        b"--batch_1\r\nContent-Type: application/http\r\n\r\n"
        b"DELETE /media/a.txt? HTTP/1.1\r\nx-ms-date: now\r\n\r\n"
        b"--batch_1\r\nContent-Type: application/http\r\n\r\n"
        b"PUT /media/docs/b.txt?comp=tier HTTP/1.1\r\n\r\n--batch_1--\r\n"
    )
    found = azure("POST", "https://acct.blob.core.windows.net/?comp=batch", {}, body)
    assert ("acct.blob.core.windows.net", "media", "a.txt", False) in found
    assert ("acct.blob.core.windows.net", "media", "docs/b.txt", False) in found
    text = azure("POST", "https://acct.blob.core.windows.net/?comp=batch", {}, body.decode())
    assert text == found


def gcs(
    method: str, url: str, headers: dict[str, str] | None = None, body: object = None
) -> list[tuple[str, str, str | None, str, bool]]:
    return [
        (target.endpoint, target.bucket, target.blob, target.operation, target.is_read)
        for target in gcs_requests.targets(method, url, headers or {}, body)
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://storage.googleapis.com/storage/v1/b/media/o/a.txt",
        "https://STORAGE.GOOGLEAPIS.COM./storage/v1/b/media/o/a.txt",
        "https://www.googleapis.com/storage/v1/b/media/o/a.txt",
        "https://storage.mtls.googleapis.com/storage/v1/b/media/o/a.txt",
        "https://storage.googleapis.com/media/a.txt",
        "https://media.storage.googleapis.com/a.txt",
    ],
)
def test_google_spellings_are_one_bucket(url: str) -> None:
    assert gcs("DELETE", url)[0][:3] == ("google", "media", "a.txt")


def test_emulator_spellings_and_other_endpoints() -> None:
    path = "/storage/v1/b/media/o/a.txt"
    same = {
        gcs("DELETE", f"{host}{path}")[0][0]
        for host in (
            "http://localhost:9023",
            "http://127.0.0.1:9023",
            "http://LOCALHOST:9023/",
        )
    }
    assert same == {"loopback:9023"}
    assert gcs("DELETE", f"http://localhost:9024{path}")[0][0] == "loopback:9024"
    assert gcs_requests.endpoint_of(None) == "google"


def test_gcs_operations() -> None:
    base = "https://storage.googleapis.com"
    assert gcs("POST", f"{base}/upload/storage/v1/b/media/o?uploadType=resumable&name=x")[0][
        1:4
    ] == ("media", "x", "objects.insert")
    multipart = b'--b\r\ncontent-type: application/json\r\n\r\n{"name": "docs/\\u00e9.txt"}\r\n'
    assert (
        gcs("POST", f"{base}/upload/storage/v1/b/media/o?uploadType=multipart", {}, multipart)[0][2]
        == "docs/\u00e9.txt"
    )
    copy = gcs("POST", f"{base}/storage/v1/b/prod/o/a/copyTo/b/dev/o/b")[0]
    assert copy[1:4] == ("dev", "b", "objects.copy")
    moved = gcs("POST", f"{base}/storage/v1/b/prod/o/a%2Fb/moveTo/o/c")[0]
    assert moved[1:4] == ("prod", "a/b", "objects.move")
    assert gcs("PUT", f"{base}/storage/v1/b/prod/iam")[0][3] == "buckets.setIamPolicy"
    assert gcs("POST", f"{base}/storage/v1/b/prod/o/a/acl")[0][3] == "objectAccessControls.insert"
    assert gcs("PATCH", f"{base}/storage/v1/b/prod")[0][3] == "buckets.patch"
    assert gcs("GET", f"{base}/storage/v1/b/prod/o")[0][3:] == ("objects.list", True)
    assert gcs("GET", f"{base}/download/storage/v1/b/prod/o/a?alt=media")[0][4] is True
    assert (
        gcs("GET", f"{base}/storage/v1/b/prod/o/a", {"X-HTTP-Method-Override": "DELETE"})[0][4]
        is False
    )
    assert gcs("POST", f"{base}/prod/big?uploads")[0][3] == "XML API POST (multipart upload)"
    assert gcs("GET", f"{base}/storage/v1/projects/p/serviceAccount") == []


def test_gcs_batch_parts() -> None:
    body = (
        "--b\r\nContent-Type: application/http\r\n\r\n"
        "PATCH https://storage.googleapis.com/storage/v1/b/media/o/a.txt HTTP/1.1\r\n\r\n{}\r\n"
        "--b\r\nContent-Type: application/http\r\n\r\n"
        "DELETE /storage/v1/b/media/o/b.txt HTTP/1.1\r\n\r\n--b--\r\n"
    )
    found = gcs("POST", "https://storage.googleapis.com/batch/storage/v1", {}, body)
    assert found == [
        ("google", "media", "a.txt", "batch: objects.patch", False),
        ("google", "media", "b.txt", "batch: objects.delete", False),
    ]


def test_a_gcs_batch_that_cannot_be_read_is_refused_where_a_bucket_is_protected() -> None:
    # An endpoint of its own: the register is process-wide, other tests protect buckets too.
    unique = uuid.uuid4()
    name, port = f"unit-{unique.hex[:12]}", 1024 + unique.int % 60000
    protection.protect(protection.Container("gcs", f"loopback:{port}", name), backend="Unit()")
    gcs_guard._protecting = True
    with pytest.raises(ReadOnlyStorageError, match=f"'batch' \\(POST\\) on 'gs://{name}'"):
        gcs_guard.check("POST", f"http://127.0.0.1:{port}/batch/storage/v1", {}, iter([b"x"]))
    # Another endpoint, with nothing protected: let through.
    gcs_guard.check("POST", "http://[::2]:1/batch/storage/v1", {}, iter([b"x"]))
