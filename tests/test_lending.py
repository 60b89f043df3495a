"""What ReadOnlyStorage lends of its backend: data and read methods, never a method that writes.

The ground truth is the protected directory: its files, their bytes and their modification
times, which a rewrite of the same bytes (save_manifest) still changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.core.management import call_command
from django.db.migrations.writer import MigrationWriter
from django.test import override_settings
from django_42 import OVERRIDE_DROPS_OPTIONS

from fallback_storage import FallbackStorage, ReadOnlyStorage, ReadOnlyStorageError
from fallback_storage.method_kinds import KNOWN_WRITE_METHODS, READ_METHODS

Tree = dict[str, tuple[bytes, int]]


def tree(directory: Path) -> Tree:
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


class ThumbnailStorage(InMemoryStorage):
    """A backend with methods of its own: one that reads, one that writes, and a class."""

    file_class = File

    def thumbnail_url(self, name: str) -> str:
        return f"{self.url(name)}?thumbnail"

    def publish(self, name: str) -> None:
        self.save(f"published/{name}", ContentFile(b"published"))


def refused_call(method: str, backend: str) -> str:
    return (
        f"ReadOnlyStorage refused to call {method}() of {backend}, which is not known to only "
        f"read; write through a writable backend beside it in FallbackStorage, or, if "
        f"{method}() only reads, list it in ReadOnlyStorage's 'read_methods' option."
    )


# -- the rule ---------------------------------------------------------------------------------


def test_data_classes_and_read_methods_are_lent(tmp_path: Path) -> None:
    backend = ThumbnailStorage(base_url="/media/")
    storage = ReadOnlyStorage(backend)
    assert storage.base_url == "/media/"
    assert storage.file_class is File
    assert ReadOnlyStorage(FileSystemStorage(str(tmp_path))).base_location == str(tmp_path)
    with pytest.raises(AttributeError):
        storage.no_such_attribute  # noqa: B018


def test_a_method_not_known_to_read_is_lent_as_a_refusal() -> None:
    backend = ThumbnailStorage(base_url="/media/")
    storage = ReadOnlyStorage(backend)
    assert hasattr(storage, "publish") and callable(storage.publish)
    assert storage.publish.__name__ == "publish"
    with pytest.raises(ReadOnlyStorageError) as caught:
        storage.publish("a.txt")
    assert str(caught.value) == refused_call("publish", "ThumbnailStorage")
    assert (caught.value.operation, caught.value.name, caught.value.backend) == (
        "publish()",
        None,
        "ThumbnailStorage",
    )
    with pytest.raises(ReadOnlyStorageError, match=r"refused to call thumbnail_url\(\)"):
        storage.thumbnail_url("a.txt")
    assert backend.listdir("") == ([], [])


def test_read_methods_lends_more_methods_that_only_read() -> None:
    storage = ReadOnlyStorage(ThumbnailStorage(base_url="/media/"), read_methods=["thumbnail_url"])
    assert storage.thumbnail_url("a.txt") == "/media/a.txt?thumbnail"
    with pytest.raises(ReadOnlyStorageError):
        storage.publish("a.txt")
    assert storage.read_methods == frozenset({"thumbnail_url"})


def test_read_methods_from_settings_and_in_migrations() -> None:
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "thumbs": {
                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                "OPTIONS": {
                    "backend": {"BACKEND": f"{__name__}.ThumbnailStorage"},
                    "read_methods": ("thumbnail_url",),
                },
            },
        }
    ):
        from django.core.files.storage import storages

        thumbs: Any = storages["thumbs"]
        assert thumbs.thumbnail_url("x") == "/media/x?thumbnail"
    source, _ = MigrationWriter.serialize(ReadOnlyStorage("thumbs", read_methods=["thumbnail_url"]))
    assert source == (
        "fallback_storage.storage.ReadOnlyStorage('thumbs', read_methods=['thumbnail_url'])"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "thumbnail_url",
            "ReadOnlyStorage 'read_methods' must be a list of method names, got "
            "'thumbnail_url'; list the backend's methods that only read, e.g. ['thumbnail_url'].",
        ),
        (
            3,
            "ReadOnlyStorage 'read_methods' must be a list of method names, got 3; list the "
            "backend's methods that only read, e.g. ['thumbnail_url'].",
        ),
        (
            [b"thumbnail_url"],
            "ReadOnlyStorage 'read_methods' entry b'thumbnail_url' is not a public method name; "
            "list names such as 'thumbnail_url'.",
        ),
        (
            ["_private"],
            "ReadOnlyStorage 'read_methods' entry '_private' is not a public method name; list "
            "names such as 'thumbnail_url'.",
        ),
        (
            ["thumbnail url"],
            "ReadOnlyStorage 'read_methods' entry 'thumbnail url' is not a public method name; "
            "list names such as 'thumbnail_url'.",
        ),
        (
            ["thumbnail_url", "post_process"],
            "ReadOnlyStorage 'read_methods' entry 'post_process' is a method that writes; remove "
            "it, and write through a writable backend beside the ReadOnlyStorage in "
            "FallbackStorage instead.",
        ),
    ],
    ids=["a string", "not a list", "bytes", "private", "not a name", "a known write"],
)
def test_read_methods_is_validated(value: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        ReadOnlyStorage(InMemoryStorage(), read_methods=value)
    assert str(caught.value) == message


def test_every_known_write_is_refused_and_no_known_write_is_a_read() -> None:
    assert not KNOWN_WRITE_METHODS & READ_METHODS
    for method in ("save", "delete", "clear_whiteouts", "get_user_delegation_key"):
        with pytest.raises(ImproperlyConfigured, match="is a method that writes"):
            ReadOnlyStorage(InMemoryStorage(), read_methods=[method])


def test_storages_are_lent_read_only(tmp_path: Path, settings: Any) -> None:
    settings.STATIC_URL = "/static/"
    manifest = ManifestStaticFilesStorage(location=str(tmp_path))
    lent = ReadOnlyStorage(manifest).manifest_storage
    assert isinstance(lent, ReadOnlyStorage) and lent.backend is manifest
    with pytest.raises(ReadOnlyStorageError):
        lent.save("staticfiles.json", ContentFile(b"{}"))
    layers = ReadOnlyStorage(FallbackStorage([InMemoryStorage(), manifest])).backends
    assert isinstance(layers, tuple) and len(layers) == 2
    assert all(isinstance(layer, ReadOnlyStorage) for layer in layers)
    with pytest.raises(ReadOnlyStorageError):
        layers[0].save("a.txt", ContentFile(b"x"))
    assert tree(tmp_path) == {}


def test_a_fallback_storage_passes_the_refusal_on() -> None:
    storage = FallbackStorage(
        [InMemoryStorage(), ReadOnlyStorage(ThumbnailStorage(base_url="/media/"))]
    )
    with pytest.raises(ReadOnlyStorageError, match=r"refused to call publish\(\)"):
        storage.publish("a.txt")


# -- collectstatic into a read-only storage ------------------------------------------------------


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Static sources, and STORAGES["staticfiles"] read-only over a manifest storage on prod."""
    sources, prod = tmp_path / "sources", tmp_path / "prod"
    sources.mkdir()
    prod.mkdir()
    (sources / "site.css").write_text("body { background: url('logo.png'); }")
    (sources / "logo.png").write_bytes(b"\x89PNG fake")
    past = 1_700_000_000
    for path in sources.iterdir():
        os.utime(path, (past, past))
    manifest = {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
        "OPTIONS": {"location": str(prod)},
    }
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "django.contrib.staticfiles"],
        STATIC_URL="/static/",
        STATICFILES_DIRS=[str(sources)],
        # Only these sources, not the static files of the installed apps (the admin's).
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "writable": manifest,
            "staticfiles": {
                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                "OPTIONS": {"backend": manifest},
            },
        },
    ):
        yield sources, prod


def collectstatic() -> None:
    call_command("collectstatic", interactive=False, verbosity=0)


@OVERRIDE_DROPS_OPTIONS
def test_collectstatic_into_an_empty_read_only_storage_writes_nothing(
    static_site: tuple[Path, Path],
) -> None:
    _, prod = static_site
    with pytest.raises(ReadOnlyStorageError) as caught:
        collectstatic()
    assert caught.value.operation == "save"
    assert str(caught.value) == (
        f"ReadOnlyStorage refused to save {caught.value.name!r} in ManifestStaticFilesStorage; "
        f"list a writable backend beside it in FallbackStorage, or write to another storage."
    )
    assert caught.value.name in {"logo.png", "site.css"}
    assert tree(prod) == {}


@OVERRIDE_DROPS_OPTIONS
def test_collectstatic_over_a_collected_read_only_storage_refuses_post_process(
    static_site: tuple[Path, Path],
) -> None:
    from django.core.files.storage import storages

    sources, prod = static_site
    # Collected before, by a writable storage on the same directory: every file is current.
    for name in ("logo.png", "site.css"):
        storages["writable"].save(name, ContentFile((sources / name).read_bytes()))
    found = {name: (FileSystemStorage(str(sources)), name) for name in ("logo.png", "site.css")}
    writable: Any = storages["writable"]
    list(writable.post_process(found))
    before = tree(prod)
    assert "staticfiles.json" in before
    with pytest.raises(ReadOnlyStorageError) as caught:
        collectstatic()
    assert str(caught.value) == refused_call("post_process", "ManifestStaticFilesStorage")
    assert tree(prod) == before
