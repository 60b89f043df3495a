"""The one loop over the layers: ask each in order, with the rules, and learn from the answers.

:func:`walk` is where a search of :mod:`fallback_storage.lookup` goes on when
its cheap first step did not answer. Before each layer is asked, the rules of
:class:`~fallback_storage.layers.Layers` have their say (whiteouts, then the
location cache, then outages); after the answer, the cache remembers what the
search proved and an unreachable layer starts an outage. :class:`Progress` is
how far a search got before the loop.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.core.exceptions import SuspiciousOperation

from fallback_storage.failures import Failure, is_missing
from fallback_storage.layers import Layers
from fallback_storage.location_cache import Location
from fallback_storage.whiteouts import MARKER_PREFIX, is_reserved

__all__ = [
    "NOT_IMPLEMENTED",
    "REMEMBERED_MISSING",
    "Progress",
    "failed",
    "is_marker",
    "resume",
    "walk",
]


class Progress(NamedTuple):
    """How far a search got before the loop of :func:`walk` goes on from ``start``."""

    #: The next layer to ask.
    start: int
    #: Whether every layer asked so far gave a definite answer (has it or not).
    certain: bool
    #: Whether a layer asked so far implements the method.
    implemented: bool
    failures: list[Failure]
    #: The location cache's token, taken before its lookup (0 when the cache is off).
    token: int = 0
    #: What the location cache remembers about the name (None: nothing, or no cache).
    known: Location | None = None


def walk(
    layers: Layers,
    name: str,
    method: str,
    extra: tuple[Any, ...] = (),
    existence: bool = False,
    record: bool = True,
    memo: bool = False,
    stop: int | None = None,
    progress: Progress | None = None,
) -> tuple[int | None, Any, list[Failure]]:
    """Search ``layers`` for ``name``, asking each with ``method(name, *extra)``.

    With ``existence`` the answer is a bool and only ``True`` counts as found
    (``exists()``); otherwise a call that returns counts. ``stop`` ends the
    search before that layer. ``record`` False never remembers a hit (a lazily
    opening backend may "open" a missing file). With ``memo`` the cache also
    keeps the answer of a layer other than the writable one (``size()``: a
    production file's size, so asking again costs no request). ``progress``
    goes on with a search :func:`~fallback_storage.lookup.find` or
    :func:`~fallback_storage.lookup.read` started. Returns the index of the
    layer that answered (None if none did), its answer, and the failures met.
    """
    whiteouts = layers.whiteouts
    if progress is None:
        if is_marker(layers, name):
            return None, None, []  # a whiteout marker is never a file
        cache = layers.cache
        progress = resume(*((0, None) if cache is None else cache.locate(name)))
    start, certain, implemented, failures, token, known = progress
    count = layers.count
    if stop is None:
        stop = count
    if known is not None and known.start >= count:
        return None, REMEMBERED_MISSING, failures  # the cache knows no layer has it
    backends = layers.backends
    down = layers.down  # the layers in an outage, usually none
    cache = layers.cache
    writable = layers.writable
    hidden: bool | None = None
    for index in range(start, stop):
        if whiteouts is not None and index != writable:
            if hidden is None:
                hidden = whiteouts.hides(name)
            if hidden:
                continue
        if known is not None and index == known.start and known.found:
            if existence:
                return index, True, failures  # the cache knows this layer has it
            if memo and known.size is not None:
                return index, known.size, failures
        backend = backends[index]
        if down and index in down:
            skipped = layers.outages.skipped(index, name)  # type: ignore[union-attr]
            if skipped is not None:
                certain = False
                failures.append(Failure(index, backend, skipped))
                continue
        function = getattr(backend, method, None)
        if function is None:
            certain = False
            continue
        try:
            answer = function(name, *extra) if extra else function(name)
        except SuspiciousOperation:
            raise
        except Exception as error:
            certain = failed(layers, index, error, failures) and certain
            continue
        implemented = True
        if down and index in down:
            layers.outages.answered(index)  # type: ignore[union-attr]
        if existence and not answer:
            continue
        if cache is not None and record and certain:
            if memo and index != writable:
                cache.remember(name, index, True, token, size=answer)
            elif known is None or known[:2] != (index, True):
                cache.remember(name, index, True, token)
        return index, answer, failures
    if cache is not None and (0 if known is None else known.start) < stop:
        if certain:
            cache.remember(name, stop, False, token)
        elif known is not None:
            cache.forget((name,))
    if not (implemented or failures or hidden):
        return None, NOT_IMPLEMENTED, failures
    return None, None, failures


def resume(token: int, known: Location | None) -> Progress:
    """A search that has asked no layer yet: it starts where the cache says the name is."""
    return Progress(0 if known is None else known.start, True, False, [], token, known)


def is_marker(layers: Layers, name: str) -> bool:
    """Whether ``name`` is a whiteout marker, which is never a file in any layer."""
    return layers.whiteouts is not None and MARKER_PREFIX in name and is_reserved(name)


def failed(layers: Layers, index: int, error: Exception, failures: list[Failure]) -> bool:
    """Record that layer ``index`` raised ``error``; whether the search stays certain.

    A layer that does not implement the method (``NotImplementedError``) is
    skipped. Any other error counts as a failure, starts an outage if it says
    the layer cannot be reached, and leaves the search certain only if it says
    the file is missing there.
    """
    if isinstance(error, NotImplementedError):
        return False
    if layers.outages is not None:
        layers.outages.failed(index, error)
    failures.append(Failure(index, layers.backends[index], error))
    return is_missing(error)


# Returned as the answer of a search the location cache settled without asking,
# and of a search in which no layer implemented the method.
REMEMBERED_MISSING = object()
NOT_IMPLEMENTED = object()
