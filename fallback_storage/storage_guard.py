"""StorageGuard: fail a test when a write reaches a storage, whatever backend it is.

``StorageGuard("production")`` (an alias of ``settings.STORAGES``) or
``StorageGuard(storage)`` watches that storage instance and every layer it
reaches (lazy objects such as ``default_storage`` unwrapped, the layers of a
``FallbackStorage`` or ``ReadOnlyStorage`` followed), so a write through any
other storage that holds it as a layer is seen too. A ``ReadOnlyStorage``
itself is not watched: it refuses writes before they reach anything; the
backend inside it is. A write is ``save()``,
``delete()``, ``open()`` in a mode that can write, and every other method the
backend has that :mod:`fallback_storage.method_kinds` does not know as a read
(``clear_whiteouts()``, ``post_process()``, a custom ``publish()``...). For an
S3 backend, a :class:`~fallback_storage.testing.BucketGuard` on its bucket
sees the writes its boto3 clients send too.

The guard replaces the write methods on the instances themselves, for as long
as it is active, so code that got hold of the storage earlier is seen, in
every thread; leaving the guard puts the originals back. With ``block=True``
(the default) a write raises
:class:`~fallback_storage.exceptions.ReadOnlyStorageError` before it runs;
either way, leaving the guard raises
:class:`~fallback_storage.exceptions.StorageTouchedError` listing every write,
even when the code under test caught the refusal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any

from django.core.files.storage import InvalidStorageError, Storage, storages

from fallback_storage import call_sites, cloud_guards, s3_guard
from fallback_storage.exceptions import (
    BucketTouchedError,
    ReadOnlyStorageError,
    StorageTouchedError,
)
from fallback_storage.method_kinds import is_read_method, is_write_mode

__all__ = ["StorageGuard", "StorageWrite"]

# Always watched, whatever a guard's read_methods say: the Storage API's writes.
_ALWAYS = ("save", "_save", "delete", "open", "_open")
_LIBRARIES = (
    "fallback_storage",
    "django",
    "storages",
    "botocore",
    "boto3",
    "s3transfer",
    "threading",
    "concurrent",
    "contextlib",
    "functools",
)


@dataclasses.dataclass(frozen=True)
class StorageWrite:
    """One write a :class:`StorageGuard` saw reach its storage."""

    operation: str
    name: str | None
    storage: str
    called_from: str
    thread: str

    def describe(self) -> str:
        """One line: operation, name, storage and the code that called it."""
        return (
            f"{self.operation} {self.name!r} on {self.storage} "
            f"(called from {self.called_from}, thread {self.thread!r})"
        )


class StorageGuard(contextlib.ContextDecorator):
    """Fail if a write reaches one of ``targets`` (aliases of settings.STORAGES or storages).

    ``read_methods`` names more methods of the backend that only read.
    ``writes`` holds what was seen, S3 requests that are not reads included.
    """

    def __init__(
        self, *targets: str | Storage, block: bool = True, read_methods: Iterable[str] = ()
    ) -> None:
        if not targets or not all(isinstance(t, (str, Storage)) and t != "" for t in targets):
            raise ValueError(
                f"StorageGuard needs storages or aliases of settings.STORAGES, got {targets!r}; "
                f"pass what to leave untouched, e.g. StorageGuard('production')."
            )
        self.targets = targets
        self.block = block
        self.read_methods = frozenset(read_methods)
        self.writes: list[StorageWrite] = []
        self._depth = 0
        self._watched: list[Storage] = []
        self._buckets: contextlib.ExitStack | None = None

    def __enter__(self) -> StorageGuard:
        if self._depth == 0:
            self.writes = []
            self._watched = _reachable(_resolve(target) for target in self.targets)
            self._buckets = contextlib.ExitStack()
            from fallback_storage.s3_testing import BucketGuard

            s3 = [storage for storage in self._watched if s3_guard.is_s3_storage(storage)]
            if buckets := sorted({str(getattr(storage, "bucket_name", "")) for storage in s3}):
                self._buckets.enter_context(BucketGuard(*buckets, block=self.block))
            with _lock:
                for storage in self._watched:
                    _watch(storage, self)
        self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth:
            return
        with _lock:
            for storage in self._watched:
                _unwatch(storage, self)
        assert self._buckets is not None
        try:
            self._buckets.close()
        except BucketTouchedError as touched:
            requests: list[Any] = list(touched.requests)  # fallback_storage.testing.S3Request
            for r in requests:
                where = f"s3://{r.bucket}"
                keys = ", ".join(r.keys) or None
                self._see(StorageWrite(r.operation, keys, where, r.called_from, r.thread))
        if self.writes:
            raise StorageTouchedError(self.report(), writes=tuple(self.writes))

    def report(self) -> str:
        """The failure report: every write, one per line."""
        labels = ", ".join(_label(target) for target in self.targets)
        return "\n".join(
            [
                f"{len(self.writes)} write(s) reached guarded storage(s) {labels}; make the code "
                f"under test write elsewhere, e.g. to a writable backend listed before it in a "
                f"FallbackStorage, or wrap it in fallback_storage.storage.ReadOnlyStorage.",
                *(f"  {write.describe()}" for write in self.writes),
            ]
        )

    def _see(self, write: StorageWrite) -> None:
        with _lock:
            self.writes.append(write)


# -- watching instances ------------------------------------------------------------------

_lock = threading.RLock()
# id(storage) -> (storage, the guards watching it, {method: (own attribute before, wrapper)})
_watching: dict[int, tuple[Storage, list[StorageGuard], dict[str, tuple[object, object]]]] = {}
_in_write = threading.local()
_NOTHING = object()


def _resolve(target: str | Storage) -> Storage:
    if not isinstance(target, str):
        return cloud_guards.unwrap(target)
    try:
        return storages[target]
    except InvalidStorageError as error:
        raise InvalidStorageError(
            f"StorageGuard got {target!r}, which is not an alias in settings.STORAGES "
            f"({', '.join(map(repr, storages.backends))}); pass one of those aliases or a "
            f"storage instance."
        ) from error


def _reachable(roots: Iterable[Storage]) -> list[Storage]:
    # A read-only storage (ReadOnlyStorage) refuses writes before they reach its
    # backend, as a FallbackStorage relies on to fall through: such a refusal is
    # not a write, and the backend inside is watched instead.
    found: dict[int, Storage] = {}
    for root in roots:
        for storage in cloud_guards.reachable(root):
            if getattr(storage, "read_only", False) is not True:
                found.setdefault(id(storage), storage)
    return list(found.values())


def _label(target: str | Storage) -> str:
    if isinstance(target, str):
        return f"{target!r} ({cloud_guards.describe(_resolve(target))})"
    return cloud_guards.describe(target)


def _methods(storage: Storage) -> list[str]:
    """Methods that can write: the Storage API's and every public method not known as a read."""
    names = list(_ALWAYS)
    for name in dir(type(storage)):
        if name.startswith("_") or name in names or is_read_method(name):
            continue
        if isinstance(inspect.getattr_static(storage, name, None), types.FunctionType):
            names.append(name)
    return names


def _watch(storage: Storage, guard: StorageGuard) -> None:
    entry = _watching.get(id(storage))
    if entry is not None:
        entry[1].append(guard)
        return
    wrapped: dict[str, tuple[object, object]] = {}
    for name in _methods(storage):
        original = getattr(storage, name, None)
        if callable(original):
            wrapper = _wrapper(storage, name, original)
            wrapped[name] = (storage.__dict__.get(name, _NOTHING), wrapper)
            setattr(storage, name, wrapper)
    _watching[id(storage)] = (storage, [guard], wrapped)


def _unwatch(storage: Storage, guard: StorageGuard) -> None:
    entry = _watching[id(storage)]
    entry[1].remove(guard)
    if entry[1]:
        return
    del _watching[id(storage)]
    for name, (before, wrapper) in entry[2].items():
        # A method someone replaced after us stays theirs.
        if storage.__dict__.get(name) is wrapper:
            if before is _NOTHING:
                delattr(storage, name)
            else:
                setattr(storage, name, before)


def _wrapper(storage: Storage, method: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            entry = _watching.get(id(storage))
            guards = list(entry[1]) if entry is not None and entry[0] is storage else []
        operation, name = _operation(method, args, kwargs)
        inside: set[int] = getattr(_in_write, "guards", set())
        seeing = [
            guard
            for guard in guards
            if operation
            and id(guard) not in inside  # a write this guard saw already, one level up
            and not is_read_method(method, guard.read_methods)
        ]
        if not seeing:
            return original(*args, **kwargs)
        write = StorageWrite(
            operation=operation,
            name=name,
            storage=cloud_guards.describe(storage),
            called_from=call_sites.caller(_LIBRARIES),
            thread=threading.current_thread().name,
        )
        for guard in seeing:
            guard._see(write)
        if any(guard.block for guard in seeing):
            raise ReadOnlyStorageError(
                f"{operation} {name!r} on {write.storage} was refused; the storage is guarded "
                f"by fallback_storage.testing.StorageGuard, which lets only reads reach it, make "
                f"the code under test write to another storage.",
                operation=operation,
                name=name,
                backend=write.storage,
            )
        _in_write.guards = inside | {id(guard) for guard in seeing}
        try:
            return original(*args, **kwargs)
        finally:
            _in_write.guards = inside

    return guarded


def _operation(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    """What the call does (empty when it only reads) and the name it is about."""
    name = args[0] if args else kwargs.get("name")
    if method in ("open", "_open"):
        mode = args[1] if len(args) > 1 else kwargs.get("mode", "rb")
        return (f"open (mode {mode!r})" if is_write_mode(str(mode)) else ""), name
    if method in ("save", "_save") and name is None:
        content = args[1] if len(args) > 1 else kwargs.get("content")
        name = getattr(content, "name", None)
    return method.lstrip("_"), name if isinstance(name, str) or name is None else repr(name)
