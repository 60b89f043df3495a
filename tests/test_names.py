"""Hostile and unusual file names, through FallbackStorage and ReadOnlyStorage.

Each name gives the same answer as Django's own storage or a clear
``SuspiciousFileName`` (a ``SuspiciousFileOperation`` and a ``ValueError``),
identically through both wrappers and whatever the order of the backends; a
suspicious name never reaches the production bucket (a ThreadedMotoServer
behind a counting proxy on 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage
from faults import FaultProxy, start_moto
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storages.backends.s3 import S3Storage

from fallback_storage import FallbackStorage, ReadOnlyStorage
from fallback_storage.exceptions import SuspiciousFileName
from fallback_storage.testing import seeding

BUCKET = "production"

NAMES = {
    "dotdot": "../x.txt",
    "dotdot-inside": "a/../../x.txt",
    "dotdot-alone": "..",
    "absolute": "/etc/passwd",
    "nul": "a\x00b.txt",
    "nul-dir": "dir\x00/x.txt",
    "backslash": "a\\b.txt",
    "backslash-dotdot": "..\\x.txt",
    "empty": "",
    "dot": ".",
    "trailing-slash": "dir/",
    "long": "a" * 300 + ".txt",
    "long-path": "/".join(["d" * 50] * 100) + "/x.txt",
    "non-ascii": "résumé-日本.txt",
    "case": "a.txt",  # only "A.txt" exists
    "control": "tab\there.txt",
}
SUSPICIOUS = [
    "dotdot",
    "dotdot-inside",
    "dotdot-alone",
    "absolute",
    "nul",
    "nul-dir",
    "backslash-dotdot",
]

# The spelling FallbackStorage asks its layers about, where it is not the name itself.
CANONICAL = {"backslash": "a/b.txt", "dot": "", "trailing-slash": "dir"}
TOO_LONG = {"long", "long-path"}

READS: dict[str, Callable[[Storage, str], Any]] = {
    "exists": lambda s, n: s.exists(n),
    "open": lambda s, n: _read(s, n),
    "size": lambda s, n: s.size(n),
    "url": lambda s, n: s.url(n),
    "path": lambda s, n: s.path(n),
    "listdir": lambda s, n: s.listdir(n),
    "get_modified_time": lambda s, n: s.get_modified_time(n) is not None,
}
WRITES: dict[str, Callable[[Storage, str], Any]] = {
    "save": lambda s, n: s.save(n, ContentFile(b"new")),
    "delete": lambda s, n: s.delete(n),
    "get_available_name": lambda s, n: s.get_available_name(n),
}


def _read(storage: Storage, name: str) -> bytes:
    with storage.open(name) as file:
        return file.read()  # type: ignore[no-any-return]


def fresh(kind: str, root: Path) -> Storage:
    """A new backend of ``kind`` holding one file, ``A.txt``."""
    storage: Storage
    if kind == "FileSystemStorage":
        storage = FileSystemStorage(location=str(root), base_url="/media/")
    else:
        storage = InMemoryStorage(location=str(root), base_url="/media/")
    storage.save("A.txt", ContentFile(b"upper"))
    return storage


def outcome(operation: Callable[[Storage, str], Any], storage: Storage, name: str) -> object:
    """What the user sees: the value (paths made relative), or the exception's type."""
    try:
        value = operation(storage, name)
    except Exception as error:
        return type(error)
    location = str(getattr(storage, "location", ""))
    return repr(value).replace(location, "<root>") if location else repr(value)


@pytest.mark.parametrize("kind", ["FileSystemStorage", "InMemoryStorage"])
@pytest.mark.parametrize("operation", sorted(READS))
@pytest.mark.parametrize("label", sorted(NAMES))
def test_a_read_gives_djangos_answer_or_a_clear_error_identically_through_both_wrappers(
    label: str, operation: str, kind: str, tmp_path: Path
) -> None:
    name, read = NAMES[label], READS[operation]
    direct = outcome(read, fresh(kind, tmp_path / "direct"), name)
    via_fallback = outcome(read, FallbackStorage([fresh(kind, tmp_path / "fallback")]), name)
    via_read_only = outcome(read, ReadOnlyStorage(fresh(kind, tmp_path / "read-only")), name)

    if label in SUSPICIOUS:
        # A URL is computed, never looked up: both give Django's own for a name no file can
        # have ('/etc/passwd', a NUL), asking no layer whether it exists, and refuse one that
        # climbs out with '..'; every other read is refused before any layer.
        climbs = label.startswith(("dotdot", "backslash-dotdot"))
        refused = direct if operation == "url" and not climbs else SuspiciousFileName
        assert (via_fallback, via_read_only) == (refused, refused)
    else:
        # A name too long for a file system is a missing file there, through both wrappers;
        # FallbackStorage asks its layers about the name's one canonical spelling.
        def missing_if_too_long(answer: object) -> object:
            return FileNotFoundError if label in TOO_LONG and answer is OSError else answer

        assert via_read_only == missing_if_too_long(direct)
        canonical = CANONICAL.get(label, name)
        expected = outcome(read, fresh(kind, tmp_path / "canonical"), canonical)
        assert via_fallback == missing_if_too_long(expected)


@pytest.mark.parametrize("kind", ["FileSystemStorage", "InMemoryStorage"])
@pytest.mark.parametrize("operation", sorted(WRITES))
@pytest.mark.parametrize("label", sorted(NAMES))
def test_a_write_gives_djangos_answer_or_a_clear_error(
    label: str, operation: str, kind: str, tmp_path: Path
) -> None:
    name, write = NAMES[label], WRITES[operation]
    direct = outcome(write, fresh(kind, tmp_path / "direct"), name)
    via_fallback = outcome(write, FallbackStorage([fresh(kind, tmp_path / "fallback")]), name)

    if via_fallback == direct:
        return
    # Where the answers differ, the package refused the name, for a reason.
    # (Deleting "" or ".", the storage's root, is refused as Django refuses "".)
    assert label in SUSPICIOUS or (label in ("empty", "dot") and operation == "delete"), (
        direct,
        via_fallback,
    )
    assert via_fallback in (SuspiciousFileName, ValueError)
    assert isinstance(via_fallback, type)
    assert issubclass(via_fallback, ValueError)


def test_names_differing_only_in_case_are_different_files(local: FileSystemStorage) -> None:
    memory = InMemoryStorage()
    storage = FallbackStorage([local, memory])
    storage.save("Photo.JPG", ContentFile(b"upper"))
    memory.save("photo.jpg", ContentFile(b"lower"))

    assert _read(storage, "Photo.JPG") == b"upper"
    assert _read(storage, "photo.jpg") == b"lower"
    assert storage.listdir("")[1] == ["Photo.JPG", "photo.jpg"]


def test_a_nul_byte_is_refused_with_a_clear_error_before_any_backend(
    local: FileSystemStorage,
) -> None:
    storage = FallbackStorage([local, InMemoryStorage()])

    with pytest.raises(SuspiciousFileName) as caught:
        storage.open("a\x00b.txt")

    assert str(caught.value) == (
        "FallbackStorage refused the file name 'a\\x00b.txt' in open(): it contains a NUL byte, "
        "which no file system can store; remove it from the name."
    )
    assert isinstance(caught.value, SuspiciousFileOperation)
    assert isinstance(caught.value, ValueError)


def test_a_traversal_is_refused_with_a_clear_error_whatever_the_first_backend() -> None:
    storage = ReadOnlyStorage(InMemoryStorage())

    with pytest.raises(SuspiciousFileName) as caught:
        storage.exists("a/../../etc/passwd")

    assert str(caught.value) == (
        "ReadOnlyStorage refused the file name 'a/../../etc/passwd' in exists(): it is absolute "
        "or has a '..' segment (a path traversal attempt); use a name relative to the storage."
    )


def test_an_empty_name_is_never_deleted_anywhere(local: FileSystemStorage) -> None:
    later = InMemoryStorage()
    later.save("keep.txt", ContentFile(b"keep"))
    storage = FallbackStorage([local, later])

    with pytest.raises(ValueError) as caught:
        storage.delete("")

    assert str(caught.value) == "The name must be given to delete()."  # Django's own words
    assert later.exists("keep.txt")


# -- production is never reached -------------------------------------------------------


@pytest.fixture(scope="module")
def production() -> Iterator[FaultProxy]:
    server, address = start_moto()
    # A port an earlier module's server used may come back, with its bucket protected.
    with seeding(BUCKET):
        boto3.client(
            "s3",
            endpoint_url=f"http://{address[0]}:{address[1]}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=BUCKET)
    proxy = FaultProxy(address)
    yield proxy
    proxy.close()
    server.stop()


@pytest.fixture(scope="module")
def prod(production: FaultProxy) -> ReadOnlyStorage:
    """One production storage for the module: building boto3 clients is slow."""
    return production_storage(production)


def production_storage(proxy: FaultProxy) -> ReadOnlyStorage:
    return ReadOnlyStorage(
        S3Storage(
            bucket_name=BUCKET,
            endpoint_url=proxy.endpoint_url,
            access_key="testing",
            secret_key="testing",
            region_name="us-east-1",
            client_config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
        )
    )


@pytest.mark.parametrize("first", ["local", "production"])
@pytest.mark.parametrize("label", SUSPICIOUS)
def test_a_suspicious_name_never_reaches_production(
    label: str, first: str, production: FaultProxy, prod: ReadOnlyStorage, local: FileSystemStorage
) -> None:
    backends: list[Storage] = [local, prod] if first == "local" else [prod, local]
    storage = FallbackStorage(backends)
    production.requests.clear()

    for label_of_operation, operation in {**READS, **WRITES}.items():
        if label_of_operation == "url":
            # A URL is computed by a layer, asking none: Django's answer, or a refusal.
            with contextlib.suppress(SuspiciousFileOperation):
                operation(storage, NAMES[label])
            continue
        with pytest.raises(SuspiciousFileOperation):
            operation(storage, NAMES[label])

    assert production.requests == []


NAME_PARTS = st.sampled_from(
    ["a", "B", "é", "日", ".", "..", "", " ", "\\", "\x00", "x.txt", "Z" * 120, "%2e"]
)
HOSTILE_NAMES = st.lists(NAME_PARTS, min_size=1, max_size=5).map("/".join) | st.sampled_from(
    list(NAMES.values())
)
ORDERS = st.sampled_from(list(itertools.permutations(["filesystem", "memory", "production"])))


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=HOSTILE_NAMES, order=ORDERS)
def test_any_name_in_any_order_is_saved_and_read_back_or_refused_and_production_is_only_read(
    name: str, order: tuple[str, ...], production: FaultProxy, prod: ReadOnlyStorage
) -> None:
    production.requests.clear()
    with tempfile.TemporaryDirectory() as root:
        built: dict[str, Storage] = {
            "filesystem": FileSystemStorage(location=root),
            "memory": InMemoryStorage(),
            "production": prod,
        }
        storage = FallbackStorage([built[kind] for kind in order])
        try:
            saved = storage.save(name, ContentFile(b"payload"))
        except (SuspiciousFileOperation, ValueError, OSError) as error:
            if isinstance(error, SuspiciousFileName):
                assert production.requests == []
        else:
            assert _read(storage, saved) == b"payload"
            assert storage.exists(saved)
            # In a writable backend: the first, or a later one when the first refused
            # (FileSystemStorage refuses a 300-character name with ENAMETOOLONG).
            writable = [b for b in storage.backends if not getattr(b, "read_only", False)]
            assert any(backend.exists(saved) for backend in writable)
    assert {method for method, _ in production.requests} <= {"GET", "HEAD"}
