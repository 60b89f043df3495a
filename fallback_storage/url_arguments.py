"""Pass the extra arguments of ``url()`` only to a backend that takes them.

``FallbackStorage.url(name, expire=600)`` is computed by whichever layer has
the file: ``S3Storage.url`` takes ``expire``, ``FileSystemStorage.url`` takes
only the name. Each layer gets the arguments its ``url()`` accepts, by name
(and positionally as far as its signature goes); the others are left out, so
the call works whichever layer answers.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["accepted", "call_url"]

# url() signature facts per backend class: (positional parameter names after the name,
# whether it takes *args, whether it takes **kwargs).
_Shape = tuple[tuple[str, ...], bool, bool]
_shapes: dict[type, _Shape] = {}


def _shape(backend: object) -> _Shape:
    cls = type(backend)
    shape = _shapes.get(cls)
    if shape is None:
        try:
            parameters = list(inspect.signature(backend.url).parameters.values())  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            shape = ((), True, True)  # unknown signature: pass everything on
        else:
            positional = tuple(
                p.name
                for p in parameters[1:]
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            )
            shape = (
                positional,
                any(p.kind is p.VAR_POSITIONAL for p in parameters),
                any(p.kind is p.VAR_KEYWORD for p in parameters),
            )
        _shapes[cls] = shape
    return shape


def accepted(
    backend: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The part of ``args`` and ``kwargs`` that ``backend.url`` accepts after the name."""
    positional, var_args, var_kwargs = _shape(backend)
    if not var_args:
        args = args[: len(positional)]
    if not var_kwargs:
        kwargs = {key: value for key, value in kwargs.items() if key in positional}
    return args, kwargs


def call_url(backend: Any, name: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``backend.url(name, ...)`` with the extra arguments it takes."""
    if not args and not kwargs:
        return backend.url(name)  # type: ignore[no-any-return]
    args, kwargs = accepted(backend, args, kwargs)
    return backend.url(name, *args, **kwargs)  # type: ignore[no-any-return]
