"""Where a call came from: the line of the user's code that a guard's report names.

The guards of :mod:`fallback_storage.testing` see a write deep inside a
library (django-storages, botocore, the Azure SDK); their reports name the
first frame outside the code that works on the caller's behalf instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from collections.abc import Callable

__all__ = ["caller", "where", "within"]


def within(module: str, packages: tuple[str, ...]) -> bool:
    """Whether the module named ``module`` is one of ``packages`` or inside one."""
    return any(module == package or module.startswith(f"{package}.") for package in packages)


def caller(
    machinery: tuple[str, ...],
    libraries: tuple[str, ...] = (),
    origin: Callable[[types.FrameType], str | None] | None = None,
) -> str:
    """``path:line in function`` of the first frame up the stack outside ``libraries``.

    ``machinery`` are the packages that do the work on the caller's behalf;
    when every frame outside them is inside ``libraries`` (a write from a
    library's own code), the first frame outside ``machinery`` is named.
    ``origin`` may name a frame's origin itself (a worker thread's frame, for
    the code that handed it the work).
    """
    frame: types.FrameType | None = sys._getframe(1)
    fallback: types.FrameType | None = None
    while frame is not None:
        if origin is not None and (named := origin(frame)) is not None:
            return named
        module = str(frame.f_globals.get("__name__", ""))
        if not within(module, machinery):
            fallback = fallback or frame
            if not within(module, libraries):
                return where(frame)
        frame = frame.f_back
    return where(fallback) if fallback is not None else "an unknown place"


def where(frame: types.FrameType) -> str:
    """``path:line in function`` of ``frame``, the path relative to the working directory."""
    path = frame.f_code.co_filename
    with contextlib.suppress(ValueError):
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            path = relative
    return f"{path}:{frame.f_lineno} in {frame.f_code.co_name}"
