"""Record every storage call made through a FallbackStorage, for one request or any block::

    from fallback_storage.call_recording import recording

    with recording() as log:
        default_storage.exists("photos/a.png")
    layer_totals(log)   # calls, answers, time and requests per layer (call_figures)

Nothing is instrumented while nothing records: the lookup and the storages
run as they are. The first recording to start wraps, for the whole process,
:class:`~fallback_storage.storage.FallbackStorage`'s public operations at the
class level; the first operation of a storage in a recording (or the first
read of its ``backends``) instruments its layers
(:mod:`fallback_storage.call_layers`) and the client methods of their services
(:mod:`fallback_storage.call_requests`). The last recording to end
puts everything back. Each recording sees only the calls of its own context
(a context variable: its thread, or its asyncio task), whatever other threads
do meanwhile; a thread started inside it is not recorded.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.files.storage import storages

from fallback_storage import call_layers, call_requests, cloud_guards
from fallback_storage.call_context import (
    Frame,
    active_log,
    arguments,
    current_frame,
    is_recording,
    run,
)
from fallback_storage.call_log import CallLog, LayerCall, StorageCall

__all__ = ["STORAGE_OPERATIONS", "Recorder", "is_recording", "recording", "storage_label"]

#: The FallbackStorage operations recorded.
STORAGE_OPERATIONS = (
    *(method for method in call_layers.LAYER_METHODS if method != "_save"),
    "list_whiteouts",
    "clear_whiteouts",
)

_lock = threading.RLock()
_recordings = 0
_class_patches: list[call_requests.Patch] = []


class Recorder:
    """Record the storage calls of the current context from :meth:`start` to :meth:`stop`.

    :func:`recording` is the same as a context manager; a Recorder suits code
    that starts and stops in two places (a toolbar panel, a middleware).
    """

    def __init__(self) -> None:
        self.log = CallLog()
        self._token: contextvars.Token[CallLog | None] | None = None

    def start(self) -> None:
        """Start recording the calls of the current context into ``log``."""
        _acquire()
        self._token = active_log.set(self.log)

    def stop(self) -> None:
        """Stop recording; the last recording to stop puts every wrapped method back."""
        token, self._token = self._token, None
        if token is None:
            return
        try:
            active_log.reset(token)
        except ValueError:  # stopped from another context than the one it started in
            active_log.set(None)
        _release()


@contextmanager
def recording() -> Iterator[CallLog]:
    """Record the storage calls made in this context inside the ``with`` block."""
    recorder = Recorder()
    recorder.start()
    try:
        yield recorder.log
    finally:
        recorder.stop()


def storage_label(storage: Any) -> str:
    """How the log names a storage: its alias in ``settings.STORAGES``, else its layers."""
    for alias, built in getattr(storages, "_storages", {}).items():
        if cloud_guards.unwrap(built) is storage:
            return repr(alias)
    layers = storage._built.backends if storage._built is not None else ()
    inner = ", ".join(type(backend).__qualname__ for backend in layers)
    return f"{type(storage).__qualname__}({inner})"


def _acquire() -> None:
    global _recordings
    with _lock:
        if _recordings == 0:
            from fallback_storage.storage import FallbackStorage  # storage imports much

            for operation in STORAGE_OPERATIONS:
                wrap = functools.partial(_storage_wrapper, operation)
                _class_patches.append(call_requests.Patch.apply(FallbackStorage, operation, wrap))
            patch = call_requests.Patch.apply(FallbackStorage, "backends", _backends_wrapper)
            _class_patches.append(patch)
        _recordings += 1


def _release() -> None:
    global _recordings
    with _lock:
        _recordings -= 1
        if _recordings:
            return
        call_layers.restore()
        for patch in _class_patches:
            patch.remove()
        _class_patches.clear()


def _backends_wrapper(original: property) -> property:
    # Code that reaches for the layers (FallbackStorage.backends) to call them directly:
    # instrument them first, so those calls are recorded (as direct calls).
    def backends(storage: Any) -> Any:
        backends = original.__get__(storage)
        if active_log.get() is not None:
            call_layers.instrument(storage_label(storage), storage._built_layers())
        return backends

    return property(backends, doc=original.__doc__)


def _storage_wrapper(operation: str, original: Any) -> Any:
    @functools.wraps(original)
    def operation_wrapper(storage: Any, *args: Any, **kwargs: Any) -> Any:
        if active_log.get() is None:
            return original(storage, *args, **kwargs)
        try:
            layers = storage._built_layers()
        except Exception:
            return original(storage, *args, **kwargs)  # raises as it would have
        frame = current_frame.get()
        if frame is not None and frame.layers is layers:
            return original(storage, *args, **kwargs)  # the storage's own helpers: same call
        label = storage_label(storage)
        call_layers.instrument(label, layers)
        if frame is not None:  # a FallbackStorage inside a layer: its calls go under that layer
            node = frame.node
            prefix = f"{node.layer} › " if isinstance(node, LayerCall) else f"{label} "
            inner = dataclasses.replace(frame, layers=layers, storage=label, prefix=prefix)
            token = current_frame.set(inner)
            try:
                return original(storage, *args, **kwargs)
            finally:
                current_frame.reset(token)
        name, mode = arguments(args, kwargs)
        if operation == "open":
            mode = mode or "rb"
        call = StorageCall(storage=label, operation=operation, name=name, mode=mode)
        frame = Frame(call, call, layers, label, f"{label} ")
        return run(call, frame, original, (storage, *args), kwargs)

    return operation_wrapper
