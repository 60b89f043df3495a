"""Which storage methods only read, and which can write.

Both :class:`~fallback_storage.readonly.ReadOnlyStorage` (which lends a
backend's read methods and refuses the rest) and the test guards of
:mod:`fallback_storage.testing` (which report every write) need the same
answer. It is an allowlist: a method is a read only when it is known to be
one, so a write method a backend adds (``save_manifest()``,
``post_process()``, ``clear_whiteouts()``) counts as a write until it is
listed here or in the caller's own ``read_methods``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "KNOWN_WRITE_METHODS",
    "READ_METHODS",
    "WRITE_METHODS",
    "is_read_method",
    "is_write_mode",
]

#: Methods of Django's ``Storage`` API and of well-known backends that never write.
READ_METHODS = frozenset(
    {
        # django.core.files.storage.Storage
        "exists",
        "generate_filename",
        "get_accessed_time",
        "get_alternative_name",
        "get_available_name",
        "get_created_time",
        "get_modified_time",
        "get_valid_name",
        "is_name_available",
        "listdir",
        "path",
        "size",
        "url",
        "deconstruct",
        # The 1.x names of FallbackStorage.
        "accessed_time",
        "created_time",
        "modified_time",
        # django.contrib.staticfiles: HashedFilesMixin and ManifestFilesMixin.
        "clean_name",
        "file_hash",
        "hash_key",
        "hashed_name",
        "load_manifest",
        "read_manifest",
        "stored_name",
        "url_converter",
        # django-storages (S3, Azure, Google Cloud).
        "get_cloudfront_signer",
        "get_default_settings",
        "get_object_parameters",
        "list_all",
        # This package's own.
        "list_whiteouts",
    }
)

#: The Storage API's writes; ``open`` writes in a mode of :func:`is_write_mode`.
WRITE_METHODS = frozenset({"save", "delete"})

#: Methods known to write (or to hand out the power to), which no ``read_methods`` may list.
KNOWN_WRITE_METHODS = WRITE_METHODS | {
    # django.contrib.staticfiles: HashedFilesMixin and ManifestFilesMixin.
    "post_process",
    "save_manifest",
    # django-storages AzureStorage: a user delegation key signs SAS of any permission.
    "get_user_delegation_key",
    # FallbackStorage.
    "clear_whiteouts",
}

_WRITE_MODE_CHARACTERS = frozenset("wax+")


def is_read_method(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether the method called ``name`` is known to only read (``extra`` lists more)."""
    return name in READ_METHODS or name in extra


def is_write_mode(mode: str) -> bool:
    """Whether opening a file in ``mode`` can change it (``w``, ``a``, ``x`` or ``+``)."""
    return not _WRITE_MODE_CHARACTERS.isdisjoint(mode)
