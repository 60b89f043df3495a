"""The layers a recording instruments, and which layer each remote request is counted for.

The first operation of a :class:`~fallback_storage.storage.FallbackStorage`
in a recording wraps the storage methods of each of its layers, on the layer
instance (so calls a layer gets directly, not through the storage, are
recorded too, as ``direct``), and the client methods of
:mod:`fallback_storage.call_requests` its services use. ``restore()`` puts
everything back when the last recording ends. While a recording runs, a
layer's methods are instance attributes: a layer pickled or copied then
carries them along.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import threading
import time
from typing import Any

from django.core.files.storage import Storage

from fallback_storage import azure_guard, call_requests, cloud_guards, gcs_guard, s3_guard
from fallback_storage.call_context import (
    Frame,
    active_log,
    arguments,
    current_frame,
    is_recording,
    run,
)
from fallback_storage.call_log import LayerCall, RemoteRequest, StorageCall
from fallback_storage.exceptions import ReadOnlyStorageError
from fallback_storage.failures import is_missing
from fallback_storage.layers import Layers

__all__ = ["LAYER_METHODS", "instrument", "restore"]

#: The layer methods recorded (those of them a layer has).
LAYER_METHODS = (
    "open",
    "save",
    "_save",
    "delete",
    "exists",
    "listdir",
    "url",
    "size",
    "path",
    "get_accessed_time",
    "get_created_time",
    "get_modified_time",
    "get_available_name",
    "get_alternative_name",
    "get_valid_name",
    "generate_filename",
    "is_name_available",
)
_ABSENT = object()
_SERVICES: dict[object, str] = {s3_guard: "s3", azure_guard: "azure", gcs_guard: "gcs"}
_HOOKS_OF = {
    "s3": ("s3", "s3transfer"),
    "http": ("http",),
    "azure": ("requests",),
    "gcs": ("requests",),
}


@dataclasses.dataclass
class _Layer:
    """A layer instrumented while recordings run, and what it was before."""

    backend: Any
    storage: str
    label: str
    layers: Layers
    originals: dict[str, Any]
    service: str | None
    http: tuple[Any, ...]


_lock = threading.RLock()
_service_patches: dict[str, call_requests.Patch | None] = {}
_instrumented: dict[int, _Layer] = {}
# The clients (botocore clients, requests sessions) seen sending a layer call's requests, and the
# layer: a request such a client sends outside any call (reading a file a layer opened) is that
# layer's. Another client of the same bucket (the site's own boto3 code) is no layer's.
_clients: dict[int, tuple[Any, _Layer]] = {}


def instrument(storage: str, layers: Layers) -> None:
    """Wrap the methods of each layer of ``layers`` (once), labelled for ``storage``."""
    with _lock:
        for index, backend in enumerate(layers.backends):
            known = _instrumented.get(id(backend))
            if known is not None and known.backend is backend:
                continue
            attributes = getattr(backend, "__dict__", None)
            if attributes is None:
                continue  # a layer with __slots__ cannot take instance attributes
            reached = [(r, _service(r)) for r in cloud_guards.reachable(backend)]
            services = [service for _, service in reached if service is not None]
            layer = _Layer(
                backend=backend,
                storage=storage,
                label=f"{storage} {layers.labels[index]}",
                layers=layers,
                originals={},
                service=services[0] if services else None,
                http=tuple(r for r, s in reached if s == "http"),
            )
            for method in LAYER_METHODS:
                if not callable(getattr(type(backend), method, None)):
                    continue
                layer.originals[method] = attributes.get(method, _ABSENT)
                attributes[method] = _layer_wrapper(backend, method, getattr(backend, method))
            _instrumented[id(backend)] = layer
            for hook in {hook for service in services for hook in _HOOKS_OF[service]}:
                if hook not in _service_patches:
                    _service_patches[hook] = call_requests.install(hook, is_recording, _seen)


def restore() -> None:
    """Put back every layer's methods and every client method wrapped."""
    with _lock:
        for layer in _instrumented.values():
            attributes = layer.backend.__dict__
            for method, original in layer.originals.items():
                if original is _ABSENT:
                    attributes.pop(method, None)
                else:
                    attributes[method] = original
        _instrumented.clear()
        _clients.clear()
        for patch in _service_patches.values():
            if patch is not None:
                patch.remove()
        _service_patches.clear()


def _service(storage: Storage) -> str | None:
    guard = cloud_guards.guard_for(storage)
    if guard is not None:
        return _SERVICES.get(guard)
    http = sys.modules.get("fallback_storage.http")  # not imported: then no layer is HTTPStorage
    return "http" if http is not None and isinstance(storage, http.HTTPStorage) else None


def _layer_wrapper(backend: Any, method: str, original: Any) -> Any:
    @functools.wraps(original)
    def layer_wrapper(*args: Any, **kwargs: Any) -> Any:
        log = active_log.get()
        if log is None:
            return original(*args, **kwargs)
        frame = current_frame.get()
        name, mode = arguments(args, kwargs)
        if method == "open":
            mode = mode or "rb"
        known = _instrumented.get(id(backend))
        if frame is None:  # called on the layer directly, not through its storage
            if known is None:  # pragma: no cover - instrumented layers are known until restored
                return original(*args, **kwargs)
            top = StorageCall(
                storage=known.storage, operation=method, name=name, mode=mode, direct=True
            )
            frame = Frame(top, top, known.layers, known.storage, f"{known.storage} ")
            return run(top, frame, layer_wrapper, args, kwargs)
        label = _label(frame, backend, known)
        call = LayerCall(layer=label, method=method, name=name, mode=mode)
        frame.node.calls.append(call)
        service = known.service if known is not None else None
        inner = dataclasses.replace(frame, node=call, node_backend=backend, service=service)
        token = current_frame.set(inner)
        started = time.perf_counter()
        try:
            answer = original(*args, **kwargs)
        except BaseException as error:
            call.outcome = _outcome(error)
            call.error = f"{type(error).__name__}: {error}"
            if isinstance(error, ReadOnlyStorageError):
                log.refused(error, frame.storage, label, frame.top)
            raise
        else:
            if method == "exists" and not answer:
                call.outcome = "no"
            return answer
        finally:
            call.duration = time.perf_counter() - started
            current_frame.reset(token)

    return layer_wrapper


def _label(frame: Frame, backend: Any, known: _Layer | None) -> str:
    for index, layer in enumerate(frame.layers.backends):
        if layer is backend:
            return f"{frame.prefix}{frame.layers.labels[index]}"
    return known.label if known is not None else type(backend).__qualname__


def _outcome(error: BaseException) -> str:
    if isinstance(error, ReadOnlyStorageError):
        return "refused"
    if isinstance(error, NotImplementedError):
        return "not implemented"
    return "missing" if is_missing(error) else "failed"


def _seen(request: RemoteRequest, origin: tuple[str, Any]) -> None:
    """Count a request: for the layer call it was made in, else for the layer it went to."""
    log = active_log.get()
    if log is None:
        return
    frame = current_frame.get()
    if frame is not None and isinstance(frame.node, LayerCall):
        request.layer = frame.node.layer
        if not request.service:
            request.service = frame.service if frame.service in ("azure", "gcs") else "http"
        frame.node.requests.append(request)
        layer = _instrumented.get(id(frame.node_backend)) if frame.node_backend else None
        if layer is not None:
            with _lock:
                _clients.setdefault(id(origin[1]), (origin[1], layer))
        return
    layer = _layer_reached(origin)
    if layer is None:
        return  # not a request to a layer of a FallbackStorage
    request.layer = layer.label
    if frame is not None:
        frame.top.own_requests.append(request)
    else:
        log.add_later_request(request)


def _layer_reached(origin: tuple[str, Any]) -> _Layer | None:
    kind, client = origin
    with _lock:
        known = _clients.get(id(client))
        if known is not None and known[0] is client:
            return known[1]
        for layer in _instrumented.values():
            if kind == "http" and any(getattr(h, "_client", None) is client for h in layer.http):
                return layer
    return None
