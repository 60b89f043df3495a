"""The lookup: which layers may answer for a name, in which order, and what is learned.

Every read of a :class:`~fallback_storage.storage.FallbackStorage` goes
through :func:`find` (``exists()``) or :func:`read`. Each first asks the one
layer no rule has a say about, if there is one;
:func:`~fallback_storage.walk.walk`, the one loop over the layers, goes on
from there. Layers are asked in order; the first that
answers wins. Before a layer is asked, the rules of
:class:`~fallback_storage.layers.Layers` have their say, always in this order:

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

from fallback_storage.failures import Failure, add_note, combine, is_missing
from fallback_storage.first_answer import not_implemented
from fallback_storage.layers import Layers, is_read_only
from fallback_storage.name_checks import canonical_name, known_canonical
from fallback_storage.walk import (
    NOT_IMPLEMENTED,
    REMEMBERED_MISSING,
    Progress,
    failed,
    is_marker,
    resume,
    walk,
)
from fallback_storage.whiteouts import MARKER_PREFIX, is_reserved

__all__ = ["find", "free", "read", "served"]

logger = logging.getLogger(__name__)


def find(layers: Layers, name: str, *, stop: int | None = None) -> int | None:
    """The index of the first layer that has ``name`` (``exists()``), or None.

    ``name`` is first put in its canonical spelling. Raises the combined failure when a
    layer that might have it could not answer.
    """
    if name not in known_canonical:
        name = canonical_name(name, "exists", layers.roots)
    if layers.first_unruled and not layers.down and stop != 0:
        # The cheap step: no rule has a say about the first layer; ask it straight away.
        if layers.whiteouts is not None and MARKER_PREFIX in name and is_reserved(name):
            return None  # is_marker(), spelled out on the hot path: a marker is never a file
        try:
            if layers.backends[0].exists(name):
                return 0
        except SuspiciousOperation:
            raise
        except Exception as error:
            failures: list[Failure] = []
            progress = Progress(1, failed(layers, 0, error, failures), False, failures)
        else:
            progress = Progress(1, True, True, [])
    else:
        cache = layers.cache
        token, known = (0, None) if cache is None else cache.locate(name)
        # The cache never remembers a whiteout marker as found: no marker check before this.
        if (
            known is not None
            and known.found
            and (stop is None or known.start < stop)
            and (known is layers.in_writable or layers.whiteouts is None)
        ):
            return known.start  # the cache knows; no whiteout can hide this layer's file
        if is_marker(layers, name):
            return None
        progress = resume(token, known)
    index, _, failures = walk(layers, name, "exists", (), True, True, False, stop, progress)
    if index is None and failures and not all(is_missing(f.error) for f in failures):
        raise combine(failures, "exists", name)
    return index


def read(layers: Layers, method: str, name: str, mode: str | None = None) -> Any:
    """The first layer's answer to the read ``method(name)``.

    ``name`` is first put in its canonical spelling. ``mode`` is ``open()``'s, the one
    read that takes an argument besides the name; a file opened in a layer below the
    writable one goes through the copy-up rule (``copy_on_read``) before it is returned.
    """
    if name not in known_canonical:
        name = canonical_name(name, method, layers.roots)
    cache = layers.cache
    if cache is None:
        token, known = 0, None
        # No rule has a say about the first layer, unless the name is a whiteout marker
        # (is_marker(), spelled out on the hot path).
        direct = (
            0
            if layers.first_unruled
            and (layers.whiteouts is None or MARKER_PREFIX not in name or not is_reserved(name))
            else -1
        )
    else:
        # No whiteout hides a file of the writable layer, and the cache never remembers a
        # marker as found: where it says the writable layer has the name, ask that layer.
        # The in-process cache is peeked at (after taking the token), as a shared one
        # cannot be.
        in_writable = layers.in_writable
        token = cache.generation.value
        known = cache.peek(name)
        if known is None and cache.alias is not None:
            token, known = cache.locate(name)
        direct = in_writable.start if known is in_writable else -1
    progress: Progress | None
    if direct < 0 or (layers.down and direct in layers.down):
        progress = None if is_marker(layers, name) else resume(token, known)
    else:
        # The cheap step: ask the one layer no rule has a say about, straight away.
        function = getattr(layers.backends[direct], method, None)
        if function is None:
            progress = Progress(direct + 1, False, False, [], token, known)
        else:
            try:
                answer = function(name) if mode is None else function(name, mode)
            except SuspiciousOperation:
                raise
            except Exception as error:
                failures: list[Failure] = []
                certain = failed(layers, direct, error, failures)
                progress = Progress(direct + 1, certain, False, failures, token, known)
            else:
                if mode is None or direct == layers.writable:
                    return answer
                return served(layers, direct, name, answer, mode)
    extra = () if mode is None else (mode,)
    # What the answer teaches the cache: a lazily opening backend may "open" a missing
    # file, so an open proves nothing; a size is kept, so asking again costs no request.
    record, memo = method != "open", method == "size"
    index, answer, failures = walk(layers, name, method, extra, False, record, memo, None, progress)
    if index is not None:
        if mode is None or index == layers.writable:
            return answer
        return served(layers, index, name, answer, mode)
    if failures:
        raise combine(failures, method, name)
    missing = FileNotFoundError(errno.ENOENT, f"{name!r} is in no backend", name)
    if answer is REMEMBERED_MISSING:
        cache = layers.cache
        add_note(
            missing,
            f"The location cache remembers that no backend has {name!r}; it forgets after "
            f"{cache.timeout if cache else 0} seconds, or when the file is saved through "
            f"this storage.",
        )
    elif answer is NOT_IMPLEMENTED:
        raise not_implemented(method, layers)
    raise missing


def served(layers: Layers, index: int, name: str, handle: Any, mode: str) -> Any:
    """What an open of ``name`` returns when layer ``index``, below the writable one, opened it."""
    source, label = layers.backends[index], layers.labels[index]
    return layers.copy_up.served(source, label, name, handle, mode)


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
