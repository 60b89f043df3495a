"""What one recording saw: every storage call made through a FallbackStorage.

:func:`fallback_storage.call_recording.recording` fills a :class:`CallLog`;
this module holds the records and which layer answered, with no
instrumentation in it, so it can be read (and tested) on its own; the figures
drawn from them are in :mod:`fallback_storage.call_figures`.

A :class:`StorageCall` is one operation of a ``FallbackStorage``
(``exists``, ``open``, ``save``, ``url``...), or one call made on one of its
layers directly (``direct``). It holds the :class:`LayerCall` s the operation
made, in order, each with the :class:`RemoteRequest` s its layer sent and the
calls nested in it: a layer's own helpers (``save()`` calling ``exists()``)
and, for a nested ``FallbackStorage`` layer, that storage's layer calls.

**The layer that answered** (:func:`answered_by`) is the innermost layer call
of the operation that returned normally with an answer:

* only calls that returned count, and an ``exists()`` that returned ``False``
  did not answer "has it";
* calls on whiteout marker names (``.wh.*``) are bookkeeping, never answers;
* of a write (``save``, ``delete``, ``open`` in a writing mode), only the
  layer calls that write count: the write landed there, whatever was asked
  on the way (a lower layer's ``exists()`` while choosing a name);
* among the calls that count, the last one wins (the lookup stops at the
  first layer that answers; a copy-up reads a lower layer, then serves the
  writable layer's copy, which is what the caller got); inside it, the same
  rule picks among the calls nested on other layers, so a nested
  ``FallbackStorage`` is reported down to its layer that answered;
* ``listdir()`` merges every layer, so every layer whose listing returned
  answered;
* an operation that asked no layer at all was answered by the storage
  itself: the location cache, or a whiteout marker name, which is no file.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

from fallback_storage.method_kinds import is_write_mode
from fallback_storage.whiteouts import is_reserved

__all__ = ["CallLog", "LayerCall", "Refusal", "RemoteRequest", "StorageCall", "answered_by"]

#: The layer methods that write, for the answer of a write.
WRITE_METHODS = frozenset({"save", "_save", "delete", "clear_whiteouts"})
#: What a layer call's ``outcome`` can be.
OUTCOMES = ("answered", "no", "missing", "refused", "failed", "not implemented")


@dataclasses.dataclass
class RemoteRequest:
    """One request a remote layer sent: an S3 API call, an HTTP GET or HEAD..."""

    service: str  # "s3", "http", "azure", "gcs"
    operation: str  # "HeadObject", "GET"
    target: str  # the key or the URL
    layer: str | None = None
    status: int | None = None
    attempts: int = 1  # the first try and its retries: what the server received
    duration: float = 0.0  # seconds
    error: str | None = None


@dataclasses.dataclass
class LayerCall:
    """One call of a layer's method during a storage call."""

    layer: str  # "'default' backend 1 (ReadOnlyStorage(S3Storage))"
    method: str
    name: str | None
    mode: str | None = None  # of open()
    outcome: str = "answered"
    error: str | None = None
    duration: float = 0.0
    requests: list[RemoteRequest] = dataclasses.field(default_factory=list)
    calls: list[LayerCall] = dataclasses.field(default_factory=list)

    @property
    def writes(self) -> bool:
        return self.method in WRITE_METHODS or (
            self.method == "open" and self.mode is not None and is_write_mode(self.mode)
        )

    @property
    def answers(self) -> bool:
        """Whether this call returned an answer (see the module docstring)."""
        return self.outcome == "answered" and not (self.name is not None and is_reserved(self.name))


@dataclasses.dataclass
class StorageCall:
    """One operation of a FallbackStorage, or one call made on one of its layers directly."""

    storage: str  # "'default'" or "FallbackStorage(FileSystemStorage, ReadOnlyStorage)"
    operation: str
    name: str | None
    mode: str | None = None
    direct: bool = False
    duration: float = 0.0
    error: str | None = None
    calls: list[LayerCall] = dataclasses.field(default_factory=list)
    #: Requests the storage sent to a layer's service itself, outside the layer's methods
    #: (a copy-up streams a lower layer's file with its S3 client).
    own_requests: list[RemoteRequest] = dataclasses.field(default_factory=list)

    @property
    def writes(self) -> bool:
        return self.operation in WRITE_METHODS or (
            self.operation == "open" and self.mode is not None and is_write_mode(self.mode)
        )

    def layer_calls(self) -> Iterator[tuple[int, LayerCall]]:
        """``(depth, call)`` for every layer call, depth first, in the order they were made."""
        stack = [(0, call) for call in reversed(self.calls)]
        while stack:
            depth, call = stack.pop()
            yield depth, call
            stack.extend((depth + 1, child) for child in reversed(call.calls))

    def requests(self) -> list[RemoteRequest]:
        inside = [request for _, call in self.layer_calls() for request in call.requests]
        return inside + self.own_requests


@dataclasses.dataclass
class Refusal:
    """A write a read-only layer refused (``ReadOnlyStorageError``), maybe written elsewhere."""

    storage: str
    layer: str
    operation: str
    name: str | None
    message: str
    call: StorageCall  # the storage call it happened in: did it write elsewhere?


def answered_by(call: StorageCall) -> list[str]:
    """The layers that answered ``call``, innermost; see the module docstring for the rule."""
    if call.error is not None:
        return []
    if call.operation == "listdir":
        return list(dict.fromkeys(c.layer for c in call.calls if c.answers))
    writes = call.writes
    chosen = _last_answer(call.calls, writes)
    if chosen is None:
        return []
    while True:
        inner = _last_answer([c for c in chosen.calls if c.layer != chosen.layer], writes)
        if inner is None:
            return [chosen.layer]
        chosen = inner


def _last_answer(calls: list[LayerCall], writes: bool) -> LayerCall | None:
    for call in reversed(calls):
        if call.answers and (call.writes or not writes):
            return call
    return None


class CallLog:
    """Every storage call of one recording, and the requests made outside them."""

    def __init__(self) -> None:
        self.calls: list[StorageCall] = []
        #: Requests of a layer made outside any storage call (reading a file it opened).
        self.later_requests: list[RemoteRequest] = []
        self.refusals: list[Refusal] = []
        self._lock = threading.Lock()
        self._refused: set[int] = set()

    def add(self, call: StorageCall) -> None:
        with self._lock:
            self.calls.append(call)

    def add_later_request(self, request: RemoteRequest) -> None:
        with self._lock:
            self.later_requests.append(request)

    def refused(self, error: BaseException, storage: str, layer: str, call: StorageCall) -> None:
        """Note a ReadOnlyStorageError, once however many wrapping layers it went through."""
        with self._lock:
            if id(error) in self._refused:
                return
            self._refused.add(id(error))
            self.refusals.append(
                Refusal(
                    storage=storage,
                    layer=layer,
                    operation=str(getattr(error, "operation", "write")),
                    name=getattr(error, "name", None),
                    message=str(error),
                    call=call,
                )
            )

    def slowest(self) -> list[StorageCall]:
        """The storage calls, slowest first."""
        return sorted(self.calls, key=lambda call: call.duration, reverse=True)

    def requests(self) -> list[RemoteRequest]:
        """Every remote request: made in storage calls, then later ones."""
        return [r for call in self.calls for r in call.requests()] + self.later_requests
