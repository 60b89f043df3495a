"""A FallbackStorage's layers seen from outside, through its public API only.

Which layer takes writes (the first that is not read-only), which layers lie
below it, and which whiteout, if any, hides a layer's copy of a name: the
rules ``manage.py fallback_storage`` (``which``, ``ls``, ``pull``) reports by,
kept in one place so every action answers the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.files.storage import Storage

from fallback_storage.storage import FallbackStorage

__all__ = ["layers", "parts", "whiteout_hiding", "whiteouts_on", "writable_index"]


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
