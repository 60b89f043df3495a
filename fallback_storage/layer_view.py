"""A FallbackStorage's layers seen from outside, through its public API only.

Which layer takes writes (the first that is not read-only), which layers lie
below it, and which whiteout, if any, hides a layer's copy of a name: the
rules ``manage.py fallback_storage`` (``which``, ``ls``, ``pull``) reports by,
kept in one place so every action answers the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.storage import Storage

from fallback_storage import s3_guard
from fallback_storage.readonly import ReadOnlyStorage
from fallback_storage.storage import FallbackStorage

__all__ = ["describe", "layers", "parts", "whiteout_hiding", "whiteouts_on", "writable_index"]


def layers(storage: Storage) -> tuple[Storage, ...]:
    """The layers of ``storage``, first tried first; a storage that is not layered is one."""
    if isinstance(storage, FallbackStorage):
        return storage.backends
    return (storage,)


def writable_index(layers: tuple[Storage, ...]) -> int | None:
    """The index of the layer that takes writes (the first not read-only), or None."""
    for index, layer in enumerate(layers):
        if getattr(layer, "read_only", False) is not True:
            return index
    return None


def whiteouts_on(storage: Storage) -> bool:
    """Whether ``storage`` is a FallbackStorage with the ``whiteouts`` option on."""
    return isinstance(storage, FallbackStorage) and storage.whiteouts


def parts(name: str) -> list[str]:
    """The segments of ``name``, with empty and ``.`` segments dropped."""
    return [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]


def whiteout_hiding(storage: Storage) -> Callable[[int, str], str | None]:
    """A function telling which whiteout, if any, hides a layer's copy of a name.

    It follows the documented rule, through the public API only: a whiteout of
    a name or of one of its directories hides it in every layer but the
    writable one (the first that is not read-only).
    """
    if not (isinstance(storage, FallbackStorage) and storage.whiteouts):
        return lambda index, name: None
    # One listing of the writable layer, instead of a look per name and directory.
    whiteouts = set(storage.list_whiteouts())
    writable = writable_index(storage.backends)
    if writable is None:
        writable = 0

    def hiding(index: int, name: str) -> str | None:
        if index == writable:
            return None
        segments = parts(name)
        for depth in range(1, len(segments) + 1):
            if (covering := "/".join(segments[:depth])) in whiteouts:
                return covering
        return None

    return hiding


def describe(index: int, layer: Storage) -> dict[str, Any]:
    """One row of ``layers``: index, class, access, S3 guard state and location."""
    inner = layer.backend if isinstance(layer, ReadOnlyStorage) else layer
    name = type(layer).__qualname__
    if inner is not layer:
        name = f"{name}({type(inner).__qualname__})"
    read_only = getattr(layer, "read_only", False) is True
    origin = _http_origin(inner)
    if s3_guard.is_s3_storage(inner):
        guard = "on" if s3_guard.is_protected(inner) else "off"
        prefix = getattr(inner, "location", "") or ""
        location = f"s3://{getattr(inner, 'bucket_name', '')}/{prefix}"
    elif origin is not None:
        guard = None
        location = origin
    else:
        guard = None
        location = str(getattr(inner, "location", "") or "")
    return {
        "layer": index,
        "class": name,
        "access": "read-only" if read_only else "writable",
        "s3_guard": guard,
        "location": location,
    }


def _http_origin(storage: Storage) -> str | None:
    """The base URL (and prefix) of an HTTPStorage, else None."""
    try:
        from fallback_storage.http import HTTPStorage
    except ImportError:  # no urllib3 (the 'http' extra), so no HTTPStorage either
        return None
    return storage.url(None) if isinstance(storage, HTTPStorage) else None
