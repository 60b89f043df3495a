"""URLs that would write are refused at the storage API, for every backend that signs them.

Real django-storages backends sign here without a server: S3 and Google Cloud sign locally with
the credentials they hold (a throwaway service-account key for Google), Azure computes the SAS
from the account key. A refused call returns no URL at all; a read URL is still signed, and its
query string shows it grants reading only. (Azure SAS refusal at the client, against Azurite, is
the Azure guard's.)
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.storage import InMemoryStorage, Storage
from storages.backends.azure_storage import AzureStorage
from storages.backends.gcloud import GoogleCloudStorage
from storages.backends.s3 import S3Storage

from fallback_storage import FallbackStorage, ReadOnlyStorage, ReadOnlyStorageError

# Azurite's documented development account: a public, well-known key.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def refusal(operation: str, name: str, backend: str) -> str:
    return (
        f"ReadOnlyStorage refused to {operation} {name!r} in {backend}; list a writable backend "
        f"beside it in FallbackStorage, or write to another storage."
    )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# -- S3 ---------------------------------------------------------------------------------------


@pytest.fixture
def s3() -> S3Storage:
    return S3Storage(bucket_name=f"urls-{uuid.uuid4().hex[:12]}", region_name="us-east-1")


@pytest.mark.parametrize(
    ("args", "kwargs", "method"),
    [
        ((), {"http_method": "PUT"}, "PUT"),
        ((), {"http_method": "delete"}, "DELETE"),
        ((None, 600, "POST"), {}, "POST"),
        ((None,), {"expire": 60, "http_method": "PATCH"}, "PATCH"),
    ],
    ids=["keyword", "lower case", "positional", "mixed"],
)
@pytest.mark.parametrize("nested", [False, True], ids=["direct", "in a FallbackStorage"])
def test_s3_write_urls_are_refused(
    s3: S3Storage, args: tuple[Any, ...], kwargs: dict[str, Any], method: str, nested: bool
) -> None:
    backend: Storage = FallbackStorage([s3]) if nested else s3
    storage = ReadOnlyStorage(backend)
    with pytest.raises(ReadOnlyStorageError) as caught:
        storage.url("a.txt", *args, **kwargs)
    described = "FallbackStorage" if nested else f"S3Storage(bucket_name={s3.bucket_name!r})"
    assert str(caught.value) == refusal(f"sign a {method} URL for", "a.txt", described)
    assert caught.value.operation == f"sign a {method} URL for"


def test_s3_read_urls_keep_their_parameters_and_expiry(s3: S3Storage) -> None:
    storage = ReadOnlyStorage(s3)
    for url in (
        storage.url("a.txt", parameters={"ResponseContentType": "text/plain"}, expire=60),
        storage.url("a.txt", {"ResponseContentType": "text/plain"}, 60),
        storage.url("a.txt", {"ResponseContentType": "text/plain"}, 60, "GET"),
    ):
        assert url.startswith(f"https://{s3.bucket_name}.s3.amazonaws.com/a.txt?")
        assert query(url)["response-content-type"] == ["text/plain"]
        assert query(url).get("Expires") or query(url)["X-Amz-Expires"] == ["60"]
    assert "a.txt?" in storage.url("a.txt", http_method="HEAD")


# -- Azure --------------------------------------------------------------------------------------


@pytest.fixture
def azure() -> AzureStorage:
    return AzureStorage(
        account_name=AZURITE_ACCOUNT,
        account_key=AZURITE_KEY,
        azure_container="prod-media",
        expiration_secs=600,
    )


AZURE_WRITES: dict[str, tuple[tuple[Any, ...], dict[str, Any], str]] = {
    "mode w": ((), {"mode": "w"}, "sign a URL with SAS permissions 'w' for"),
    "mode cw": ((), {"mode": "cw"}, "sign a URL with SAS permissions 'cw' for"),
    "mode rwd": ((), {"mode": "rwd"}, "sign a URL with SAS permissions 'rwd' for"),
    "mode rt (tags)": ((), {"mode": "rt"}, "sign a URL with SAS permissions 'rt' for"),
    "mode unknown letter": ((), {"mode": "rz"}, "sign a URL with SAS permissions 'rz' for"),
    "positional mode": ((600, None, "w"), {}, "sign a URL with SAS permissions 'w' for"),
    "permissions object": ((), {"mode": "BlobSasPermissions(write)"}, ""),
    "permission parameter": (
        (),
        {"parameters": {"permission": "racwd"}},
        "sign a URL with SAS permissions 'racwd' for",
    ),
    "stored access policy": (
        (),
        {"parameters": {"policy_id": "writers"}},
        "sign a URL with stored access policy 'writers' for",
    ),
    "http_method": ((), {"http_method": "PUT"}, "sign a PUT URL for"),
}


@pytest.mark.parametrize("write", AZURE_WRITES, ids=list(AZURE_WRITES))
def test_azure_write_urls_are_refused(azure: AzureStorage, write: str) -> None:
    from azure.storage.blob import BlobSasPermissions

    args, kwargs, operation = AZURE_WRITES[write]
    if kwargs.get("mode") == "BlobSasPermissions(write)":
        kwargs = {"mode": BlobSasPermissions(write=True)}
        operation = "sign a URL with SAS permissions 'w' for"
    with pytest.raises(ReadOnlyStorageError) as caught:
        ReadOnlyStorage(azure).url("a.txt", *args, **kwargs)
    described = f"AzureStorage(account_name={AZURITE_ACCOUNT!r}, azure_container='prod-media')"
    assert str(caught.value) == refusal(operation, "a.txt", described)


def test_azure_read_urls_are_signed_for_reading(azure: AzureStorage) -> None:
    storage = ReadOnlyStorage(azure)
    for url in (
        storage.url("a.txt"),
        storage.url("a.txt", mode="r"),
        storage.url("a.txt", 60, {"cache_control": "no-cache"}, "r"),
        storage.url("a.txt", mode="rl"),
    ):
        assert url.startswith(f"https://{AZURITE_ACCOUNT}.blob.core.windows.net/prod-media/a.txt?")
        assert set(query(url)["sp"][0]) <= {"r", "l"}
        assert "sig" in query(url)
    assert query(storage.url("a.txt", 60, {"cache_control": "no-cache"}))["rscc"] == ["no-cache"]
    # Unwrapped, the same call is refused too, by the Azure client guard the wrapper set up.
    with pytest.raises(ReadOnlyStorageError, match=r"^Signing a blob SAS with permission 'cw'"):
        azure.url("a.txt", mode="cw")


# -- Google Cloud ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def google_credentials() -> Any:
    """Service-account credentials with a throwaway key: they sign locally, reach nothing."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        {
            "type": "service_account",
            "project_id": "tests",
            "private_key_id": "0",
            "private_key": pem,
            "client_email": "tests@tests.iam.gserviceaccount.com",
            "client_id": "0",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


@pytest.fixture
def google(google_credentials: Any) -> GoogleCloudStorage:
    return GoogleCloudStorage(
        bucket_name="prod-media", project_id="tests", credentials=google_credentials
    )


GOOGLE_WRITES: dict[str, tuple[dict[str, Any], str]] = {
    "parameters method PUT": ({"parameters": {"method": "PUT"}}, "PUT"),
    "parameters method RESUMABLE": ({"parameters": {"method": "RESUMABLE"}}, "RESUMABLE"),
    "parameters method POST, positional": ({}, "POST"),
    "parameters http_method DELETE": ({"parameters": {"http_method": "DELETE"}}, "DELETE"),
    "http_method keyword": ({"http_method": "PUT"}, "PUT"),
}


@pytest.mark.parametrize("write", GOOGLE_WRITES, ids=list(GOOGLE_WRITES))
def test_google_cloud_write_urls_are_refused(google: GoogleCloudStorage, write: str) -> None:
    kwargs, method = GOOGLE_WRITES[write]
    args: tuple[Any, ...] = ({"method": "POST"},) if not kwargs else ()
    with pytest.raises(ReadOnlyStorageError) as caught:
        ReadOnlyStorage(google).url("a.txt", *args, **kwargs)
    described = "GoogleCloudStorage(project_id='tests', bucket_name='prod-media')"
    assert str(caught.value) == refusal(f"sign a {method} URL for", "a.txt", described)


def test_google_cloud_read_urls_are_signed_for_reading(google: GoogleCloudStorage) -> None:
    storage = ReadOnlyStorage(google)
    for url in (
        storage.url("a.txt"),
        storage.url("a.txt", {"method": "GET", "response_type": "text/plain"}),
        storage.url("a.txt", parameters={"method": "HEAD"}),
    ):
        assert url.startswith("https://storage.googleapis.com/prod-media/a.txt?")
        assert "X-Goog-Signature" in query(url)
    # Unwrapped, the same call is refused too, by the GCS client guard the wrapper set up.
    with pytest.raises(ReadOnlyStorageError, match=r"^Signing a signed URL for PUT"):
        google.url("a.txt", {"method": "PUT"})


# -- any other backend -----------------------------------------------------------------------------


class SigningStorage(InMemoryStorage):
    """A backend of someone else's whose url() signs for any method."""

    def url(self, name: str | None, method: str = "GET", parameters: Any = None) -> str:
        return f"https://signed.example/{name}?method={method}"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("PUT",), {}), ((), {"method": "post"}), (("GET", {"http_method": "DELETE"}), {})],
    ids=["positional", "keyword", "in parameters"],
)
def test_any_backend_is_refused_a_method_argument_that_writes(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ReadOnlyStorageError, match=r"^ReadOnlyStorage refused to sign a \w+ URL"):
        ReadOnlyStorage(SigningStorage()).url("a.txt", *args, **kwargs)
    assert ReadOnlyStorage(SigningStorage()).url("a.txt", "HEAD") == (
        "https://signed.example/a.txt?method=HEAD"
    )
