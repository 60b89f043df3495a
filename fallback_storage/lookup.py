"""The lookup: which layers may answer for a name, in which order, and what is learned.

Every read of a :class:`~fallback_storage.storage.FallbackStorage` goes
through :func:`walk`, the one place where the layers are searched for a name.
Layers are asked in order; the first that answers wins. Before a layer is
asked, the rules of :class:`~fallback_storage.layers.Layers` have their say,
always in this order:

1. **Whiteouts** (:mod:`fallback_storage.whiteouts`): a marker name is no file
   in any layer; a name hidden by a marker in the writable layer is answered
   by the writable layer alone. Markers are looked up only when the search
   reaches a layer other than the writable one, so a file of the writable
   layer costs no marker check.
2. **The location cache** (:mod:`fallback_storage.location_cache`): the
   search starts where the cache says the name is; a name known to be in no
   layer is answered at once.
3. **Outages** (:mod:`fallback_storage.outages`): a layer that could not be
   reached a moment ago is not asked; it counts as a failure saying so.

What is learned from the answer goes back to the same rules: the cache
remembers where the name was found (or that no layer has it) when every layer
before the answer gave a definite answer, and a layer that could not be
reached starts an outage. A :class:`~django.core.exceptions.SuspiciousOperation`
from any layer is raised at once and never reaches a later layer; a layer
that does not implement the method is skipped. When no layer answers, the
failures are combined by :func:`fallback_storage.failures.combine`.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from django.core.exceptions import SuspiciousOperation

from fallback_storage.exceptions import OperationNotImplemented
from fallback_storage.failures import Failure, add_note, combine, is_missing
from fallback_storage.layers import Layers, is_read_only
from fallback_storage.whiteouts import MARKER_PREFIX, is_reserved

__all__ = ["find", "first", "free", "not_implemented", "read", "walk"]

logger = logging.getLogger(__name__)


def walk(
    layers: Layers,
    name: str,
    method: str,
    extra: tuple[Any, ...] = (),
    existence: bool = False,
    record: bool = True,
    memo: bool = False,
    stop: int | None = None,
) -> tuple[int | None, Any, list[Failure]]:
    """Search ``layers`` for ``name``, asking each with ``method(name, *extra)``.

    With ``existence`` the answer is a bool and only ``True`` counts as found
    (``exists()``); otherwise a call that returns counts. ``stop`` ends the
    search before that layer. ``record`` False never remembers a hit (a lazily
    opening backend may "open" a missing file). With ``memo`` the cache also
    keeps the answer of a layer other than the writable one (``size()``: a
    production file's size, so asking again costs no request). Returns the
    index of the layer that answered (None if none did), its answer, and the
    failures met.
    """
    # Every read goes through here: the rules that are off cost one test each.
    whiteouts = layers.whiteouts
    if whiteouts is not None and MARKER_PREFIX in name and is_reserved(name):
        return None, None, []  # a whiteout marker is never a file
    backends = layers.backends
    down = layers.down  # the layers in an outage, usually none
    failures: list[Failure] = []
    certain = True
    implemented = False
    start = 0
    if layers.first_unruled and not down and stop != 0:
        # No rule has a say about the first layer (no location cache; it is the writable
        # layer or there are no whiteouts; it is not in an outage): ask it straight away.
        first = backends[0]
        function = getattr(first, method, None)
        if function is not None:
            try:
                answer = function(name, *extra) if extra else function(name)
            except SuspiciousOperation:
                raise
            except NotImplementedError:
                certain = False
            except Exception as error:
                if layers.outages is not None:
                    layers.outages.failed(0, error)
                certain = is_missing(error)
                failures.append(Failure(0, first, error))
            else:
                if answer or not existence:
                    return 0, answer, failures
                implemented = True
        else:
            certain = False
        start = 1
    count = layers.count
    if stop is None:
        stop = count
    cache = layers.cache
    token = 0
    known = None
    if cache is not None:
        token = cache.token()
        known = cache.lookup(name)
        if known is not None:
            start = known[0]
            if start >= count:
                return None, _REMEMBERED_MISSING, failures
    writable = layers.writable
    hidden: bool | None = None
    for index in range(start, stop):
        if whiteouts is not None and index != writable:
            if hidden is None:
                hidden = whiteouts.hides(name)
            if hidden:
                continue
        if known is not None and index == start and known.found:
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
        except NotImplementedError:
            certain = False
            continue
        except Exception as error:
            if layers.outages is not None:
                layers.outages.failed(index, error)
            certain = certain and is_missing(error)
            failures.append(Failure(index, backend, error))
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
    if cache is not None and start < stop:
        if certain:
            cache.remember(name, stop, False, token)
        elif known is not None:
            cache.forget((name,))
    if not (implemented or failures or hidden):
        return None, _NOT_IMPLEMENTED, failures
    return None, None, failures


# Returned as the answer of a search the location cache settled without asking,
# and of a search in which no layer implemented the method.
_REMEMBERED_MISSING = object()
_NOT_IMPLEMENTED = object()


def find(layers: Layers, name: str, *, stop: int | None = None) -> int | None:
    """The index of the first layer that has ``name`` (``exists()``), or None.

    Raises the combined failure when a layer that might have it could not answer.
    """
    index, _, failures = walk(layers, name, "exists", (), True, True, False, stop)
    if index is None and failures and not all(is_missing(f.error) for f in failures):
        raise combine(failures, "exists", name)
    return index


def read(
    layers: Layers,
    method: str,
    name: str,
    extra: tuple[Any, ...] = (),
    *,
    record: bool = True,
    memo: bool = False,
) -> tuple[int, Any]:
    """The first layer's answer to the read ``method(name, *extra)``, and its index."""
    index, answer, failures = walk(layers, name, method, extra, False, record, memo)
    if index is not None:
        return index, answer
    if failures:
        raise combine(failures, method, name)
    error = FileNotFoundError(errno.ENOENT, f"{name!r} is in no backend", name)
    if answer is _REMEMBERED_MISSING:
        cache = layers.cache
        add_note(
            error,
            f"The location cache remembers that no backend has {name!r}; it forgets after "
            f"{cache.timeout if cache else 0} seconds, or when the file is saved through "
            f"this storage.",
        )
    elif answer is _NOT_IMPLEMENTED:
        raise not_implemented(method, layers)
    raise error


def free(layers: Layers, name: str) -> bool | None:
    """Whether no layer has ``name``; None when a read-only layer could not say.

    Used to choose the name of a new file: a read-only layer that cannot
    answer (production down, throttled, forbidden) must not stop a local
    write, but its answer is unknown. A failure of a writable layer is raised.
    """
    index, _, failures = walk(layers, name, "exists", (), True)
    if index is not None:
        return False
    unknown = False
    for failure in failures:
        if is_missing(failure.error):
            continue
        if not is_read_only(failure.backend):
            raise combine([failure], "exists", name)
        logger.warning(
            "FallbackStorage could not tell whether %r exists in %s (%s: %s); choosing a "
            "name that cannot clash with it.",
            name,
            layers.labels[failure.position],
            type(failure.error).__name__,
            failure.error,
        )
        unknown = True
    return None if unknown else True


def first(
    layers: Layers, method: str, name: str | None, *args: Any, read: bool = True, **kwargs: Any
) -> Any:
    """The first successful ``method(*args, **kwargs)`` of any layer, no name lookup.

    ``read`` False for a write: the error raised is then the layers' own (see
    :func:`fallback_storage.failures.combine`).
    """
    failures: list[Failure] = []
    for index, backend in enumerate(layers.backends):
        function = getattr(backend, method, None)
        if function is None:
            continue
        try:
            return function(*args, **kwargs)
        except SuspiciousOperation:
            raise
        except NotImplementedError:
            continue
        except Exception as error:
            failures.append(Failure(index, backend, error))
    if not failures:
        raise not_implemented(method, layers)
    raise combine(failures, method, name, read=read)


def not_implemented(method: str, layers: Layers) -> OperationNotImplemented:
    classes = ", ".join(type(backend).__qualname__ for backend in layers.backends)
    return OperationNotImplemented(
        f"No backend of FallbackStorage implements {method}() ({classes}); add a backend that does."
    )
