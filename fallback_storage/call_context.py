"""Where the calls of the current context are recorded: the log, and the call being made.

Two context variables, so each recording sees only the calls of its own thread
or asyncio task: the :class:`~fallback_storage.call_log.CallLog` of the
recording that runs (None when none does), and the ``Frame`` of the call
being made, which the calls it makes (on layers, to remote services) are added to.
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import time
from typing import Any

from fallback_storage.call_log import CallLog, LayerCall, StorageCall
from fallback_storage.layers import Layers

__all__ = ["Frame", "active_log", "arguments", "current_frame", "is_recording", "run"]

_NAME_ARGUMENTS = ("name", "path", "filename", "file_root")

active_log: contextvars.ContextVar[CallLog | None] = contextvars.ContextVar(
    "fallback_storage_call_log", default=None
)


@dataclasses.dataclass(frozen=True)
class Frame:
    """Where the calls of this context go: the storage call, the node to add to, the labels."""

    top: StorageCall
    node: StorageCall | LayerCall
    layers: Layers
    storage: str  # the label of the storage whose layers are being called
    prefix: str  # put before a layer's own label: "'default' "
    service: str | None = None  # the service of the layer being called
    node_backend: Any = None  # the layer being called


current_frame: contextvars.ContextVar[Frame | None] = contextvars.ContextVar(
    "fallback_storage_call_frame", default=None
)


def is_recording() -> bool:
    """Whether a recording runs in this context."""
    return active_log.get() is not None


def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    """The name and the mode a storage method was called with, where they are strings."""
    name: Any = args[0] if args else next((kwargs[k] for k in _NAME_ARGUMENTS if k in kwargs), None)
    mode = args[1] if len(args) > 1 else kwargs.get("mode")
    if isinstance(name, (str, os.PathLike)):
        name = os.fspath(name)
    return (name if isinstance(name, str) else None), (mode if isinstance(mode, str) else None)


def run(call: StorageCall, frame: Frame, function: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
    """Call ``function`` as the storage call ``call``: logged, timed, its error noted."""
    log = active_log.get()
    assert log is not None
    log.add(call)
    token = current_frame.set(frame)
    started = time.perf_counter()
    try:
        return function(*args, **kwargs)
    except BaseException as error:
        call.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        call.duration = time.perf_counter() - started
        current_frame.reset(token)
