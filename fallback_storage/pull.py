"""Copy files of a FallbackStorage's lower layers into its writable layer, for offline work.

The engine of ``manage.py fallback_storage pull``, usable from code too::

    from fallback_storage.pull import pull
    from fallback_storage.pull_selection import select

    summary = pull(select(storages["default"], "storage 'default'", ["photos/"], [], []))

Each selected file (:mod:`fallback_storage.pull_selection`) is streamed from
the lower layer that serves it into the writable layer with
``fallback_storage.copying.copy_handle()``, by a bounded pool of worker
threads. Lower layers are only read. It is idempotent and resumable: a file
the writable layer already has is never copied again (it is *up to date* when
the sizes match, *kept* otherwise), and a copy that fails or is interrupted
leaves nothing under the final name, so running the same pull again finishes
the job. Ctrl+C stops the copies under way at their next chunk and raises
:class:`~fallback_storage.exceptions.PullInterrupted`.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.core.files.storage import Storage

from fallback_storage.copying import copy_handle, open_stream, prepare_source
from fallback_storage.exceptions import PullInterrupted, PullUsageError
from fallback_storage.pull_outcomes import (
    COPIED,
    FAILED,
    KEPT_LOCAL,
    MISSING,
    TOO_LARGE,
    UP_TO_DATE,
    WOULD_COPY,
    Outcome,
    Report,
    Summary,
)
from fallback_storage.pull_selection import Item, Selection

__all__ = ["parse_size", "pull"]

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class _Quiet:
    def start(self, files: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass

    def finish(self, outcome: Outcome) -> None:
        pass

    def close(self) -> None:
        pass


class _Cancelled(BaseException):
    """Raised in a worker's copy once the pull is interrupted; never caught as a failure."""


class _TooLarge(Exception):
    pass


def pull(
    selection: Selection,
    *,
    workers: int = 4,
    max_size: int | None = None,
    dry_run: bool = False,
    report: Report | None = None,
) -> Summary:
    """Pull every file of ``selection`` with up to ``workers`` copies at a time.

    Files over ``max_size`` bytes are left out; ``dry_run`` copies nothing and
    reports what would be copied, with sizes.
    """
    if workers < 1:
        raise ValueError(f"pull() needs at least one worker, got workers={workers!r}.")
    report = report or _Quiet()
    started = time.monotonic()
    outcomes: list[Outcome] = []
    cancel = threading.Event()

    def summary() -> Summary:
        # In the order of the selection, whatever order the copies finished in.
        order = {id(item): index for index, item in enumerate(selection.items)}
        ordered = sorted(outcomes, key=lambda outcome: order[id(outcome.item)])
        return Summary(ordered, selection.not_found, dry_run, time.monotonic() - started)

    def one(item: Item) -> Outcome:
        return _pull_one(item, dry_run, max_size, cancel, report.advance)

    for layers in {id(item.layers): item.layers for item in selection.items}.values():
        for index in layers.sources:
            prepare_source(layers.layers[index])
    report.start(len(selection.items))
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fallback-storage-pull")
    # At most two jobs per worker are queued at any time, so a failure of the report (a
    # closed pipe) or Ctrl+C stops the pull after those, however many files were selected.
    waiting = iter(selection.items)
    pending: set[Future[Outcome]] = set()
    try:
        while True:
            for item in itertools.islice(waiting, 2 * workers - len(pending)):
                pending.add(executor.submit(one, item))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                outcomes.append(outcome)
                report.finish(outcome)
    except BaseException as error:
        cancel.set()
        executor.shutdown(wait=True, cancel_futures=True)
        report.close()
        if isinstance(error, KeyboardInterrupt):
            raise PullInterrupted(summary()) from error
        raise
    executor.shutdown()
    report.close()
    return summary()


def parse_size(text: str) -> int:
    """Bytes in ``text``: ``1000``, ``512K``, ``1.5M``, ``2G`` (K, M, G, T are powers of 1024)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise PullUsageError(
            f"--max-size {text!r} is not a size; give bytes or a number with K, M, G or T "
            f"(powers of 1024), e.g. --max-size 20M."
        )
    return int(float(match[1]) * _UNITS[match[2].upper()])


def _pull_one(
    item: Item,
    dry_run: bool,
    max_size: int | None,
    cancel: threading.Event,
    advance: Callable[[int], None],
) -> Outcome:
    if cancel.is_set():
        raise _Cancelled
    try:
        local = _size_if_exists(item.layers.target, item.name)
        if local is not None:
            return _compare(item, local)
        if dry_run:
            layer, size = _source_size(item)
            if layer is None:
                return Outcome(item, MISSING)
            status = TOO_LARGE if max_size is not None and size > max_size else WOULD_COPY
            return Outcome(item, status, size, layer)
        return _copy(item, max_size, cancel, advance)
    except Exception as error:  # noqa: BLE001 - every failure is reported, the others go on
        return Outcome(item, FAILED, error=f"{type(error).__name__}: {error}")


def _copy(
    item: Item, max_size: int | None, cancel: threading.Event, advance: Callable[[int], None]
) -> Outcome:
    layers, name = item.layers, item.name
    for index in _candidates(item):
        try:
            stream = open_stream(layers.layers[index], name)
        except FileNotFoundError:
            continue
        with stream:
            if max_size is not None and stream.size is not None and stream.size > max_size:
                return Outcome(item, TOO_LARGE, stream.size, index)
            copied = 0

            def progress(size: int) -> None:
                nonlocal copied
                if cancel.is_set():
                    raise _Cancelled
                copied += size
                if max_size is not None and copied > max_size:
                    raise _TooLarge
                advance(size)

            try:
                size = copy_handle(stream, name, layers.target, progress=progress)
            except _TooLarge:
                return Outcome(item, TOO_LARGE, copied, index)
            except FileExistsError:
                # Written meanwhile, by another pull or by the site: compare, never replace.
                return _compare(item, _size_if_exists(layers.target, name) or 0)
        return Outcome(item, COPIED, size, index)
    return Outcome(item, MISSING)


def _compare(item: Item, local: int) -> Outcome:
    layer, size = _source_size(item)
    status = UP_TO_DATE if layer is not None and size == local else KEPT_LOCAL
    return Outcome(item, status, local, layer)


def _candidates(item: Item) -> list[int]:
    if item.layer is not None:
        return [item.layer]
    return item.layers.visible_sources(item.name)


def _source_size(item: Item) -> tuple[int | None, int]:
    for index in _candidates(item):
        size = _size_if_exists(item.layers.layers[index], item.name, ask_first=False)
        if size is not None:
            return index, size
    return None, 0


def _size_if_exists(storage: Storage, name: str, *, ask_first: bool = True) -> int | None:
    # Remote layers answer size() of a missing file with FileNotFoundError, so
    # they need no exists() first; the writable layer is asked (cheaply) first.
    try:
        if ask_first and not storage.exists(name):
            return None
        return storage.size(name)
    except (FileNotFoundError, NotImplementedError):
        return None
