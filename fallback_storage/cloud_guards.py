"""Find the cloud backends a storage reaches, and hand each to its service's client guard.

A :class:`~fallback_storage.readonly.ReadOnlyStorage` refuses writes at the
storage API; for a cloud backend it also has the service's guard protect the
backend's container in the whole process (:mod:`fallback_storage.protection`).
The backend can be reached in several ways, and every one is followed: the
backend itself, a lazy object around it (``default_storage``), and every layer
of a :class:`~fallback_storage.storage.FallbackStorage` or
``ReadOnlyStorage`` nested inside, at any depth.

A guard is a module with four functions: ``handles(storage)`` (is this a
backend of my service?), ``protect(storage, backend=...)``,
``is_protected(storage)`` and ``describe(storage)`` (how refusals name it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from django.core.files.storage import Storage
from django.utils.functional import LazyObject, empty

__all__ = [
    "Guard",
    "describe",
    "guard_for",
    "guards",
    "protect_reachable",
    "reachable",
    "unwrap",
    "walk",
]


class Guard(Protocol):
    """What :mod:`fallback_storage.s3_guard` (and every other service's guard) provides."""

    def handles(self, storage: object) -> bool: ...

    def protect(self, storage: object, *, backend: str | None = None) -> None: ...

    def is_protected(self, storage: object) -> bool: ...

    def describe(self, storage: object) -> str: ...


def guards() -> tuple[Guard, ...]:
    """Every service's guard. None imports its SDK before a backend of its service exists."""
    from fallback_storage import azure_guard, gcs_guard, s3_guard

    return (s3_guard, azure_guard, gcs_guard)


def guard_for(storage: object) -> Guard | None:
    """The guard of ``storage``'s service, or None for a storage no guard handles."""
    for guard in guards():
        if guard.handles(storage):
            return guard
    return None


def unwrap(storage: Storage) -> Storage:
    """The storage a lazy object (``default_storage``, ``staticfiles_storage``) stands for."""
    while isinstance(storage, LazyObject):
        if storage._wrapped is empty:
            storage._setup()
        storage = storage._wrapped
    return storage


def walk(storage: Storage, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Storage]]:
    """``(path, layer)`` for ``storage`` and every layer inside it, depth first.

    Lazy objects are unwrapped; ``path`` holds the index of each layer in its
    wrapper's backends, ``()`` for ``storage`` itself.
    """
    storage = unwrap(storage)
    yield path, storage
    layers = getattr(type(storage), "_wrapped_backends", None)
    if layers is not None:
        for index, layer in enumerate(layers(storage)):
            yield from walk(layer, (*path, index))


def reachable(storage: Storage) -> Iterator[Storage]:
    """``storage`` and every layer inside it, depth first, lazy objects unwrapped."""
    for _, layer in walk(storage):
        yield layer


def protect_reachable(storage: Storage) -> list[Storage]:
    """Protect every cloud backend reachable from ``storage``; return them."""
    protected = []
    for layer in reachable(storage):
        guard = guard_for(layer)
        if guard is not None:
            guard.protect(layer, backend=guard.describe(layer))
            protected.append(layer)
    return protected


def describe(storage: Storage) -> str:
    """How refusals name a backend: a cloud backend with its container, others by class."""
    storage = unwrap(storage)
    guard = guard_for(storage)
    return guard.describe(storage) if guard is not None else type(storage).__qualname__
