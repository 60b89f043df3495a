"""How backend entries are configured and built, and every configuration error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage, storages
from django.test import override_settings

from fallback_storage.storage import FallbackStorage, ReadOnlyStorage


def storages_setting(**extra: dict[str, object]) -> dict[str, dict[str, object]]:
    return {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        **extra,
    }


# -- the three ways to configure --------------------------------------------------


@pytest.mark.usefixtures("aliased_storages")
def test_entries_can_be_aliases_dotted_paths_dicts_and_instances(tmp_path: Path) -> None:
    instance = InMemoryStorage()
    storage = FallbackStorage(
        backends=[
            "local",
            "django.core.files.storage.InMemoryStorage",
            {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "dict")},
            },
            instance,
        ]
    )

    local, dotted, from_dict, given = storage.backends

    assert local is storages["local"]
    assert type(dotted) is InMemoryStorage
    assert isinstance(from_dict, FileSystemStorage)
    assert from_dict.location == str(tmp_path / "dict")
    assert given is instance


def test_storages_setting_configures_a_fallback_storage(local_dir: Path, prod_dir: Path) -> None:
    with override_settings(
        STORAGES=storages_setting(
            main={
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": ["local", "prod"]},
            },
            local={
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(local_dir)},
            },
            prod={
                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                "OPTIONS": {
                    "backend": {
                        "BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": str(prod_dir)},
                    }
                },
            },
        )
    ):
        (prod_dir / "p.txt").write_bytes(b"prod")
        # Not the "default" alias: override_settings(STORAGES=...) on Django 4.2 drops its OPTIONS.
        default = storages["main"]

        assert isinstance(default, FallbackStorage)
        with default.open("p.txt") as handle:
            assert handle.read() == b"prod"
        name = default.save("new.txt", ContentFile(b"new"))
        assert (local_dir / name).read_bytes() == b"new"
        assert not (prod_dir / name).exists()


def test_without_backends_the_1x_fallback_storages_setting_is_read(tmp_path: Path) -> None:
    with override_settings(
        MEDIA_ROOT=str(tmp_path),
        FALLBACK_STORAGES=(
            "django.core.files.storage.FileSystemStorage",
            "django.core.files.storage.InMemoryStorage",
        ),
    ):
        storage = FallbackStorage()
        assert [type(b) for b in storage.backends] == [FileSystemStorage, InMemoryStorage]


def test_backends_are_built_once_and_rebuilt_when_settings_change(tmp_path: Path) -> None:
    storage = FallbackStorage()
    with override_settings(FALLBACK_STORAGES=["django.core.files.storage.InMemoryStorage"]):
        first = storage.backends
        assert storage.backends is first
        assert storage.backends[0] is first[0]
    with override_settings(
        MEDIA_ROOT=str(tmp_path),
        FALLBACK_STORAGES=["django.core.files.storage.FileSystemStorage"],
    ):
        assert [type(b) for b in storage.backends] == [FileSystemStorage]


def test_an_alias_is_rebuilt_when_storages_changes(local_dir: Path, prod_dir: Path) -> None:
    storage = FallbackStorage(backends=["media"])
    with override_settings(
        STORAGES=storages_setting(
            media={
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(local_dir)},
            }
        )
    ):
        assert storage.location == str(local_dir)
    with override_settings(
        STORAGES=storages_setting(
            media={
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(prod_dir)},
            }
        )
    ):
        assert storage.location == str(prod_dir)


@pytest.mark.skipif(
    django.VERSION >= (5, 1), reason="DEFAULT_FILE_STORAGE only exists before Django 5.1"
)
def test_the_1x_readme_settings_work_on_django_42(tmp_path: Path) -> None:
    # A fresh process, configured exactly as the 1.x README says.
    (tmp_path / "settings_1x.py").write_text(
        "SECRET_KEY = 'NOTASECRET'\n"
        "USE_TZ = True\n"
        f"MEDIA_ROOT = {str(tmp_path / 'media')!r}\n"
        "DEFAULT_FILE_STORAGE = 'fallback_storage.storage.FallbackStorage'\n"
        "FALLBACK_STORAGES = (\n"
        "    'django.core.files.storage.FileSystemStorage',\n"
        "    'django.core.files.storage.InMemoryStorage',\n"
        ")\n"
    )
    script = (
        "import django, warnings\n"
        "from django.utils.deprecation import RemovedInDjango51Warning\n"
        "warnings.simplefilter('ignore', RemovedInDjango51Warning)\n"
        "django.setup()\n"
        "from django.core.files.base import ContentFile\n"
        "from django.core.files.storage import FileSystemStorage, default_storage, storages\n"
        "print(type(storages['default']).__name__)\n"
        "print([type(b).__name__ for b in default_storage.backends])\n"
        "name = default_storage.save('a.txt', ContentFile(b'1x'))\n"
        "print(name, default_storage.exists(name), default_storage.open(name).read())\n"
        "print(default_storage.url(name) == FileSystemStorage().url(name))\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "settings_1x",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        },
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "FallbackStorage",
        "['FileSystemStorage', 'InMemoryStorage']",
        "a.txt True b'1x'",
        "True",
    ]
    assert (tmp_path / "media" / "a.txt").read_bytes() == b"1x"


# -- attributes ---------------------------------------------------------------------


def test_backend_attributes_read_through_from_the_first_backend_that_has_them(
    local: FileSystemStorage,
) -> None:
    class WithBucket(InMemoryStorage):
        bucket_name = "prod-media"

    storage = FallbackStorage(backends=[local, WithBucket()])

    assert storage.location == local.location
    assert storage.base_url == "/local/"
    assert storage.bucket_name == "prod-media"
    with pytest.raises(AttributeError) as caught:
        storage.no_such_attribute  # noqa: B018
    assert str(caught.value) == (
        "Neither FallbackStorage nor any of its backends has an attribute 'no_such_attribute'."
    )


def test_assigning_an_attribute_of_the_backends_sets_it_on_each_that_has_it(
    local: FileSystemStorage,
) -> None:
    memory = InMemoryStorage(base_url="/memory/")
    storage = FallbackStorage(backends=[local, memory])

    storage.base_url = "/elsewhere/"

    assert storage.base_url == "/elsewhere/"
    assert (local.base_url, memory.base_url) == ("/elsewhere/", "/elsewhere/")
    assert storage.url("missing.txt") == "/elsewhere/missing.txt"
    # An attribute no backend has is the storage's own.
    storage.note = "mine"
    assert storage.note == "mine"
    assert not hasattr(local, "note")


# -- configuration errors -------------------------------------------------------------


def error_of(storage: Storage) -> str:
    with pytest.raises(ImproperlyConfigured) as caught:
        if isinstance(storage, FallbackStorage):
            storage.backends  # noqa: B018
        else:
            assert isinstance(storage, ReadOnlyStorage)
            storage.backend  # noqa: B018
    return str(caught.value)


def test_fallback_storages_missing() -> None:
    with override_settings():
        from django.conf import settings

        if hasattr(settings, "FALLBACK_STORAGES"):
            del settings.FALLBACK_STORAGES  # type: ignore[misc]
        assert error_of(FallbackStorage()) == (
            "FallbackStorage has no 'backends' option and settings.FALLBACK_STORAGES is "
            'missing; set STORAGES[...]["OPTIONS"]["backends"] or FALLBACK_STORAGES to a list '
            "of backends."
        )


@override_settings(FALLBACK_STORAGES=())
def test_fallback_storages_empty() -> None:
    assert error_of(FallbackStorage()) == (
        "settings.FALLBACK_STORAGES is empty and FallbackStorage has no 'backends' option; "
        "list at least one backend, e.g. "
        "FALLBACK_STORAGES = ['django.core.files.storage.FileSystemStorage']."
    )


@override_settings(FALLBACK_STORAGES="django.core.files.storage.FileSystemStorage")
def test_fallback_storages_not_a_list() -> None:
    assert error_of(FallbackStorage()) == (
        "settings.FALLBACK_STORAGES must be a list or tuple of backends, got "
        "'django.core.files.storage.FileSystemStorage'; wrap it in a list."
    )


def test_backends_option_empty_or_not_a_list() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=[])
    assert str(caught.value) == (
        "FallbackStorage 'backends' is empty; list at least one backend (an alias in "
        "settings.STORAGES, a dotted class path, a "
        '{"BACKEND": ..., "OPTIONS": ...} dict or a storage instance).'
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends="local")
    assert str(caught.value) == (
        "FallbackStorage 'backends' must be a list of backends, got 'local'; "
        "wrap it in a list, e.g. ['local']."
    )


def test_unknown_alias() -> None:
    assert error_of(FallbackStorage(backends=["media"])) == (
        "FallbackStorage 'backends' entry 'media' is not an alias in settings.STORAGES; "
        "add it there or use a dotted class path."
    )


def test_entry_that_cannot_be_imported() -> None:
    message = error_of(FallbackStorage(backends=["nowhere.Storage"]))
    assert message == (
        "FallbackStorage 'backends' entry 'nowhere.Storage' cannot be imported "
        "(No module named 'nowhere'); fix the dotted path or install the package that "
        "provides it."
    )


@override_settings(FALLBACK_STORAGES=["storages.backends.s3boto.S3BotoStorage"])
def test_the_1x_readmes_s3boto_path_names_its_replacement() -> None:
    assert error_of(FallbackStorage()) == (
        "settings.FALLBACK_STORAGES entry 'storages.backends.s3boto.S3BotoStorage' no longer "
        "exists in django-storages; use 'storages.backends.s3.S3Storage' instead."
    )


def test_entry_that_is_not_a_storage() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=[42])  # type: ignore[list-item]
    assert str(caught.value) == (
        "FallbackStorage 'backends' entry 42 is not a storage; use an alias in "
        "settings.STORAGES, a dotted class path, a "
        '{"BACKEND": ..., "OPTIONS": ...} dict or a Storage instance.'
    )
    assert error_of(FallbackStorage(backends=["datetime.datetime"])) == (
        "FallbackStorage 'backends' entry 'datetime.datetime' is not a storage class; "
        "point it at a subclass of django.core.files.storage.Storage."
    )


def test_dict_entries_are_checked() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=[{"BACKEND": "x.Y", "OPTION": {}}])
    assert str(caught.value) == (
        "FallbackStorage 'backends' entry {'BACKEND': 'x.Y', 'OPTION': {}} has unknown keys "
        '[\'OPTION\']; use only "BACKEND" and "OPTIONS".'
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=[{"OPTIONS": {}}])
    assert str(caught.value) == (
        "FallbackStorage 'backends' entry {'OPTIONS': {}} has no 'BACKEND' dotted path; "
        'add "BACKEND": "path.to.StorageClass".'
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=[{"BACKEND": "x.Y", "OPTIONS": ["a"]}])
    assert str(caught.value) == (
        "FallbackStorage 'backends' entry {'BACKEND': 'x.Y', 'OPTIONS': ['a']} has 'OPTIONS' "
        "that is not a dict; make it a dict of keyword arguments."
    )


def test_options_a_backend_rejects() -> None:
    message = error_of(
        FallbackStorage(
            backends=[
                {
                    "BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"bucket": "x"},
                }
            ]
        )
    )
    assert message.startswith(
        "FallbackStorage 'backends' entry 'django.core.files.storage.FileSystemStorage' "
        "rejected its options ['bucket'] ("
    )
    assert message.endswith("); fix its OPTIONS.")


def test_unknown_option_keys() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        FallbackStorage(backends=["a"], backend="b")
    assert str(caught.value).startswith(
        "FallbackStorage got unknown options ['backend']; remove them or use one of ["
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        ReadOnlyStorage(backend="a", backends=["b"])
    assert str(caught.value).startswith(
        "ReadOnlyStorage got unknown options ['backends']; remove them or use one of ["
    )


def test_a_fallback_storage_listing_itself_directly() -> None:
    with override_settings(
        STORAGES=storages_setting(
            main={
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": ["main"]},
            }
        )
    ):
        assert error_of(storages["main"]) == (
            "FallbackStorage refers to itself through its backends "
            "(FallbackStorage -> FallbackStorage); remove the entry that leads back to it."
        )


def test_a_fallback_storage_listing_itself_through_aliases() -> None:
    with override_settings(
        STORAGES=storages_setting(
            main={
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": ["django.core.files.storage.InMemoryStorage", "a"]},
            },
            a={
                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                "OPTIONS": {"backend": "b"},
            },
            b={
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": ["main"]},
            },
        )
    ):
        assert error_of(storages["main"]) == (
            "FallbackStorage refers to itself through its backends (FallbackStorage -> "
            "ReadOnlyStorage -> FallbackStorage -> FallbackStorage); remove the entry that "
            "leads back to it."
        )


def test_the_same_alias_twice_is_not_a_cycle(local_dir: Path) -> None:
    with override_settings(
        STORAGES=storages_setting(
            shared={
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(local_dir)},
            },
            inner={
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": ["shared"]},
            },
        )
    ):
        storage = FallbackStorage(backends=["shared", "inner", ReadOnlyStorage("shared")])
        assert len(storage.backends) == 3


def test_an_alias_whose_backend_cannot_be_imported() -> None:
    with override_settings(STORAGES=storages_setting(broken={"BACKEND": "nowhere.Storage"})):
        message = error_of(FallbackStorage(backends=["broken"]))
    assert message.startswith("FallbackStorage 'backends' entry 'broken' cannot be built (")
    assert message.endswith("); fix settings.STORAGES['broken'].")


def test_assigning_a_location_moves_the_storage_and_its_remembered_answers(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (second / "docs").mkdir(parents=True)
    (second / "docs" / "b.txt").write_bytes(b"in second")
    first.mkdir()
    storage = FallbackStorage(
        backends=[FileSystemStorage(location=first), InMemoryStorage()], cache_timeout=60
    )
    assert storage.exists("docs/b.txt") is False  # remembered: no layer has it

    storage.location = str(second)

    assert storage.exists("docs/b.txt") is True
    # An absolute name inside the new location is taken as meant, as FileSystemStorage does.
    assert storage.size(str(second / "docs" / "b.txt")) == len(b"in second")
