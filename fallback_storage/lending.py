"""What :class:`~fallback_storage.readonly.ReadOnlyStorage` lends of its backend's attributes.

Attributes the wrapper does not define itself (``base_url``, ``bucket_name``,
``location``, a backend's own methods...) are looked up on the backend, and
lent under one rule: data, and methods known to only read, never a method that
can write.

* A method is lent when :mod:`fallback_storage.method_kinds` knows it reads, or
  the wrapper's ``read_methods`` option lists it. Any other method is lent as
  a stub that raises :class:`~fallback_storage.exceptions.ReadOnlyStorageError`
  when called, naming the method and the backend; ``hasattr()`` stays true, so
  code that probes for a method (``collectstatic`` and ``post_process``) finds
  it and is refused when it calls it.
* A storage (``ManifestStaticFilesStorage.manifest_storage``), or a tuple or
  list of storages (``FallbackStorage.backends``), is lent wrapped in its own
  ``ReadOnlyStorage``.
* Classes and other data are lent as they are; a cloud client or bucket
  object (``S3Storage.bucket``) is protected below the storage API by its
  service's guard (:mod:`fallback_storage.cloud_guards`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage

from fallback_storage.exceptions import ReadOnlyStorageError
from fallback_storage.method_kinds import KNOWN_WRITE_METHODS, is_read_method

__all__ = ["lend", "validate_read_methods"]


def validate_read_methods(value: object) -> frozenset[str]:
    """Check the ``read_methods`` option of ReadOnlyStorage; return its names."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ImproperlyConfigured(
            f"ReadOnlyStorage 'read_methods' must be a list of method names, got {value!r}; "
            f"list the backend's methods that only read, e.g. ['thumbnail_url']."
        )
    names = list(value)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ImproperlyConfigured(
                f"ReadOnlyStorage 'read_methods' entry {name!r} is not a public method name; "
                f"list names such as 'thumbnail_url'."
            )
        if name in KNOWN_WRITE_METHODS:
            raise ImproperlyConfigured(
                f"ReadOnlyStorage 'read_methods' entry {name!r} is a method that writes; "
                f"remove it, and write through a writable backend beside the ReadOnlyStorage "
                f"in FallbackStorage instead."
            )
    return frozenset(names)


def lend(
    attribute: str,
    value: object,
    *,
    read_methods: frozenset[str],
    backend: str,
    wrap: Callable[[Storage], Storage],
) -> Any:
    """What the wrapper returns for the backend's ``attribute``, whose value is ``value``."""
    if isinstance(value, Storage):
        return wrap(value)
    if (
        isinstance(value, (tuple, list))
        and value
        and all(isinstance(item, Storage) for item in value)
    ):
        return type(value)(wrap(item) for item in value)
    if callable(value) and not isinstance(value, type):
        if is_read_method(attribute, read_methods):
            return value
        return _refusing(attribute, backend)
    return value


def _refusing(method: str, backend: str) -> Callable[..., NoReturn]:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyStorageError(
            f"ReadOnlyStorage refused to call {method}() of {backend}, which is not known "
            f"to only read; write through a writable backend beside it in FallbackStorage, "
            f"or, if {method}() only reads, list it in ReadOnlyStorage's 'read_methods' option.",
            operation=f"{method}()",
            name=None,
            backend=backend,
        )

    refused.__name__ = refused.__qualname__ = method
    return refused
