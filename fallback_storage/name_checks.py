"""The names every layer is asked about: one spelling for all, and none that escapes.

:class:`~fallback_storage.storage.FallbackStorage` turns every name it is given
into one canonical spelling before any layer sees it (:func:`canonical_name`),
so that layers which normalise names differently answer about the same file:
``docs\\b.txt``, ``docs//b.txt`` and ``./docs/b.txt`` are all ``docs/b.txt``
(S3 would find ``docs/b.txt`` for each, a local directory only for some), and
a :class:`pathlib.Path` is its string. An absolute name, or one with ``..``
segments, is taken as it is meant when it lies inside the root of a local
layer (``os.path.join(storage.location, "docs")`` is ``docs``, as
``FileSystemStorage`` takes it) and refused otherwise, before any layer sees
it, so it can never reach a production bucket. A name with a NUL byte, which no
file system can store, is refused too.

:class:`~fallback_storage.storage.ReadOnlyStorage` and
:class:`~fallback_storage.http.HTTPStorage` refuse the same names with
:func:`check_name`. The refusal is
:class:`~fallback_storage.exceptions.SuspiciousFileName`, both a
:class:`~django.core.exceptions.SuspiciousFileOperation` and a
:class:`ValueError`.
"""

from __future__ import annotations

import os
import pathlib
import posixpath
from collections.abc import Sequence

from fallback_storage.exceptions import SuspiciousFileName

__all__ = ["canonical_name", "check_name", "climbs_out", "known_canonical", "local_roots"]


def check_name(name: object, operation: str, storage: str) -> None:
    """Raise :class:`~fallback_storage.exceptions.SuspiciousFileName` for a bad ``name``.

    A name is bad when it has a NUL byte or escapes the storage. It escapes
    when it is absolute or has a ``..`` segment; backslashes count as
    separators, as in Django's ``validate_file_name``. Names that are not
    strings (``url(None)``) are left to the backends.
    """
    if not isinstance(name, str):
        return
    if "\x00" in name:
        raise _nul_refused(name, operation, storage)
    if ".." not in name and not name.startswith(("/", "\\")):
        return  # neither absolute nor with a '..' segment; skips a costly PurePosixPath
    path = pathlib.PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise SuspiciousFileName(
            f"{storage} refused the file name {name!r} in {operation}(): it is absolute or "
            f"has a '..' segment (a path traversal attempt); use a name relative to the storage."
        )


def climbs_out(name: object) -> bool:
    """Whether ``name`` is relative and its ``..`` segments climb out of the storage.

    ``url()`` refuses such names, while it computes the backend's own URL for
    other names no file can have (``/evil.com``, ``ab\\0c``), as Django does.
    """
    if not isinstance(name, str) or ".." not in name:
        return False
    spelled = name.replace("\\", "/")
    if spelled.startswith("/"):
        return False
    normal = posixpath.normpath(spelled)
    return normal == ".." or normal.startswith("../")


def _nul_refused(name: str, operation: str, storage: str) -> SuspiciousFileName:
    return SuspiciousFileName(
        f"{storage} refused the file name {name!r} in {operation}(): it contains a NUL "
        f"byte, which no file system can store; remove it from the name."
    )


#: Names seen already canonical (a pure fact about the string, whatever the roots), so a
#: name a page asks about again and again is checked once. The lookup tests a name here
#: before it calls :func:`canonical_name`, which spares a call on the hot path.
known_canonical: dict[object, None] = {}
_KNOWN_SIZE = 4096


def local_roots(layers: Sequence[object]) -> tuple[str, ...]:
    """The root directories of the layers that keep files on local disk, in layer order."""
    roots = []
    for layer in layers:
        inner = getattr(layer, "backend", layer)  # a ReadOnlyStorage's backend
        if getattr(type(inner), "base_location", None) is None:
            continue  # not a FileSystemStorage
        try:
            location = inner.location  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a layer without a usable location has no root
            continue
        if isinstance(location, (str, os.PathLike)):
            roots.append(os.path.abspath(os.fspath(location)))
    return tuple(roots)


def canonical_name(name: object, operation: str, roots: Sequence[str]) -> str:
    """The spelling of ``name`` every layer is asked about; see the module docstring.

    Raises :class:`~fallback_storage.exceptions.SuspiciousFileName` for a
    name with a NUL byte, and for an absolute name or one with ``..`` segments
    that is not inside one of ``roots``.
    """
    if name in known_canonical:
        return name  # type: ignore[return-value]  # seen before, and already canonical
    if not isinstance(name, str):
        if not isinstance(name, os.PathLike):
            return name  # type: ignore[return-value]  # url(None) and the like: the backends' call
        name = os.fspath(name)
        if not isinstance(name, str):
            raise SuspiciousFileName(
                f"FallbackStorage refused the file name {name!r} in {operation}(): it is bytes; "
                f"pass the name as a str."
            )
    if not (
        "\\" in name
        or "\x00" in name
        or ".." in name
        or "//" in name
        or "./" in name
        or name[:1] == "/"
        or name[-1:] in ("/", ".")
    ):
        if len(known_canonical) >= _KNOWN_SIZE:
            known_canonical.clear()
        known_canonical[name] = None
        return name  # already canonical: the usual case, decided without building anything
    if "\x00" in name:
        raise _nul_refused(name, operation, "FallbackStorage")
    spelled = name.replace("\\", "/")
    if spelled.startswith("/") or ".." in spelled.split("/"):
        return _inside_a_root(name, spelled, operation, roots)
    normal = posixpath.normpath(spelled)
    return "" if normal == "." else normal


def _inside_a_root(name: str, spelled: str, operation: str, roots: Sequence[str]) -> str:
    if not spelled.startswith("/"):
        normal = posixpath.normpath(spelled)
        if normal != ".." and not normal.startswith("../"):
            return "" if normal == "." else normal
    else:
        target = os.path.normpath(spelled)
        for root in roots:
            if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
                relative = os.path.relpath(target, root)
                return "" if relative == "." else relative.replace(os.sep, "/")
    raise SuspiciousFileName(
        f"FallbackStorage refused the file name {name!r} in {operation}(): it is absolute or "
        f"has a '..' segment and is outside every layer's root (a path traversal attempt); "
        f"use a name relative to the storage."
    )
