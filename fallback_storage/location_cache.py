"""The optional location cache: which backend has a name, remembered for a while.

A :class:`~fallback_storage.storage.FallbackStorage` asks its backends in
order, and with a remote backend last every question about a file that is
not local costs a round trip. With ``cache_timeout`` set, the answer is
remembered for that many seconds as a small tuple per name,
``(start, found)``: the layers before ``start`` do not have the name, and
``found`` says whether layer ``start`` does (``start`` equal to the number of
backends means no layer has it).

Writes and deletes through the storage forget the names they touch; a change
to many names at once (a directory deleted or hidden by a whiteout, whiteouts
cleared) forgets everything, by moving to a new *epoch*. Nothing can see
writes made around the storage (another process writing straight to a
backend): those show up when the remembered answer expires. Several processes
share what they learn through ``cache_alias``, a Django cache: each lookup
reads the name's entry and the current epoch in one ``get_many()``, so a
forget in one process is seen by the others at once. Keys are namespaced by a
hash of the backend configuration, so storages configured differently never
read each other's answers.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage

__all__ = ["Location", "LocationCache", "found_in", "validate_options"]


class Location(NamedTuple):
    """What is remembered per name."""

    #: The layers before this one do not have the name.
    start: int
    #: Whether layer ``start`` has it (``start`` equal to the number of layers: no layer has it).
    found: bool
    #: Its size in layer ``start``, when a ``size()`` answer taught it.
    size: int | None = None


# One shared Location per layer index for "found there, size unknown", the usual entry, so the
# lookup can tell "in the writable layer" by identity (see found_in()).
_FOUND_IN: dict[int, Location] = {}


def found_in(start: int) -> Location:
    """The one ``Location(start, True)`` every lookup returns for a name found in ``start``."""
    location = _FOUND_IN.get(start)
    if location is None:
        location = _FOUND_IN.setdefault(start, Location(start, True))
    return location


def _location(start: int, found: bool, size: int | None) -> Location:
    return found_in(start) if found and size is None else Location(start, found, size)


_MAX_PRIVATE_ENTRIES = 10_000
_IDENTIFYING_ATTRIBUTES = ("location", "bucket_name", "endpoint_url", "custom_domain", "base_url")

_generations: dict[tuple[str, str], _Generation] = {}
_generations_lock = threading.Lock()


def validate_options(timeout: object, alias: object) -> None:
    """Raise ImproperlyConfigured for option values that cannot work."""
    if alias is not None and not isinstance(alias, str):
        raise ImproperlyConfigured(
            f"FallbackStorage 'cache_alias' must be an alias in settings.CACHES or None, "
            f"got {alias!r}; set it to a string such as 'default'."
        )
    if timeout is None:
        if alias is not None:
            raise ImproperlyConfigured(
                f"FallbackStorage 'cache_alias' is {alias!r} but 'cache_timeout' is None, "
                f"so the location cache is off; set 'cache_timeout' to a number of seconds "
                f"or remove 'cache_alias'."
            )
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ImproperlyConfigured(
            f"FallbackStorage 'cache_timeout' must be a number of seconds or None, "
            f"got {timeout!r}; set it to e.g. 60, or to None to turn the location cache off."
        )
    if not 0 < timeout < math.inf:
        raise ImproperlyConfigured(
            f"FallbackStorage 'cache_timeout' must be a positive, finite number of seconds, "
            f"got {timeout!r}; set it to e.g. 60, or to None to turn the location cache off."
        )


class _Generation:
    """A counter bumped by every invalidation, so a lookup that raced a write is not stored."""

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()

    def bump(self) -> None:
        with self.lock:
            self.value += 1


class LocationCache:
    """Remembers, per name, which layer of a FallbackStorage has it.

    ``alias`` None keeps the answers in a private in-process dictionary;
    otherwise they go to ``django.core.cache.caches[alias]``, where other
    processes with the same backend configuration find them.
    """

    def __init__(self, timeout: float, alias: str | None) -> None:
        self.timeout = timeout
        self.alias = alias
        self._namespace: str | None = None
        self._entries: dict[str, tuple[float, Location]] = {}
        self._lock = threading.Lock()
        #: Bumped by every invalidation; its ``value`` is the token (:meth:`token`).
        self.generation = _Generation()
        # The shared epoch each thread's last lookup saw, for the remember() after it.
        self._seen = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        return {"timeout": self.timeout, "alias": self.alias}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["timeout"], state["alias"])  # type: ignore[misc]

    # -- binding to a set of backends ------------------------------------------

    def bind(self, backends: Sequence[Storage]) -> None:
        """Start answering for ``backends``; called whenever they are (re)built."""
        namespace = configuration_hash(backends)
        with self._lock:
            self._entries.clear()
            if self.alias is None:
                self.generation.bump()
            else:
                if self.alias not in settings.CACHES:
                    raise ImproperlyConfigured(
                        f"FallbackStorage 'cache_alias' {self.alias!r} is not an alias in "
                        f"settings.CACHES; add it there, or remove 'cache_alias' to use a "
                        f"private local-memory cache."
                    )
                with _generations_lock:
                    self.generation = _generations.setdefault(
                        (self.alias, namespace), _Generation()
                    )
            self._namespace = namespace

    def unbind(self) -> None:
        with self._lock:
            self._namespace = None
            self._entries.clear()
            self.generation.bump()

    @property
    def namespace(self) -> str | None:
        """The hash of the backend configuration the keys are namespaced by."""
        return self._namespace

    # -- reading and writing -----------------------------------------------------

    def token(self) -> int:
        """Take before asking the backends; pass to :meth:`remember` with the answer."""
        return self.generation.value

    def lookup(self, name: str) -> Location | None:
        """What is remembered about ``name``, or None."""
        return self.locate(name)[1]

    def peek(self, name: str) -> Location | None:
        """What the in-process dictionary remembers about ``name`` (the hot path's lookup).

        Always None for a shared cache, whose lookup costs a round trip: :meth:`locate`
        then. Take the token (``generation.value``) before peeking.
        """
        entry = self._entries.get(name)
        if entry is None or entry[0] <= time.monotonic():
            return None  # (an expired entry is dropped by the next locate())
        return entry[1]

    def locate(self, name: str) -> tuple[int, Location | None]:
        """:meth:`token`, then :meth:`lookup` of ``name``, in one call (the lookup's hot path)."""
        token = self.generation.value
        if self.alias is None:
            entry = self._entries.get(name)
            if entry is None:
                return token, None
            if entry[0] <= time.monotonic():
                with self._lock:
                    if self._entries.get(name) is entry:
                        del self._entries[name]
                return token, None
            return token, entry[1]
        epoch_key, key = self._epoch_key(), self._key(name)
        values = caches[self.alias].get_many([epoch_key, key])
        epoch = values.get(epoch_key, "")
        self._seen.epoch = epoch
        value = values.get(key)
        if value is None or value[0] != epoch:
            return token, None
        _, start, found, size = value
        return token, _location(start, found, size)

    def remember(
        self, name: str, start: int, found: bool, token: int, size: int | None = None
    ) -> None:
        """Remember ``name``'s location, unless a write invalidated it since ``token``."""
        if self.alias is None:
            with self._lock:
                if token != self.generation.value or self._namespace is None:
                    return
                if len(self._entries) >= _MAX_PRIVATE_ENTRIES:
                    self._evict()
                location = _location(start, found, size)
                self._entries[name] = (time.monotonic() + self.timeout, location)
            return
        if token == self.generation.value and self._namespace is not None:
            epoch = getattr(self._seen, "epoch", None)
            if epoch is None:
                epoch = caches[self.alias].get(self._epoch_key(), "")
            value = (epoch, start, found, size)
            caches[self.alias].set(self._key(name), value, self.timeout)

    def forget(self, names: Iterable[str | None]) -> None:
        """Forget ``names`` (after a write or delete), here and in the shared cache."""
        wanted = {name for name in names if name is not None}
        self.generation.bump()
        if self.alias is None:
            with self._lock:
                for name in wanted:
                    self._entries.pop(name, None)
        elif self._namespace is not None:
            caches[self.alias].delete_many([self._key(name) for name in wanted])

    def forget_all(self) -> None:
        """Forget every name (after a change to many names), here and in the shared cache."""
        self.generation.bump()
        if self.alias is None:
            with self._lock:
                self._entries.clear()
        elif self._namespace is not None:
            caches[self.alias].set(self._epoch_key(), uuid.uuid4().hex, None)

    def _epoch_key(self) -> str:
        return f"fallback_storage.location:{self._namespace}:epoch"

    def _key(self, name: str) -> str:
        digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=16)
        return f"fallback_storage.location:{self._namespace}:{digest.hexdigest()}"

    def _evict(self) -> None:
        now = time.monotonic()
        for name in [name for name, entry in self._entries.items() if entry[0] <= now]:
            del self._entries[name]
        if len(self._entries) >= _MAX_PRIVATE_ENTRIES:
            # Oldest first (dicts keep insertion order): drop the older half.
            for name in list(self._entries)[: _MAX_PRIVATE_ENTRIES // 2]:
                del self._entries[name]


def configuration_hash(backends: Sequence[Storage]) -> str:
    """A short hash that differs between backend configurations, stable across processes."""
    description = repr([_describe(backend) for backend in backends])
    return hashlib.blake2b(description.encode(), digest_size=8).hexdigest()


def _describe(storage: object) -> object:
    cls = type(storage)
    wrapped = getattr(storage, "_wrapped_backends", None)
    attributes: list[tuple[str, str]] = []
    for attribute in _IDENTIFYING_ATTRIBUTES:
        try:
            value = getattr(storage, attribute)
        except Exception:  # noqa: BLE001 - a missing setting is no identity
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            attributes.append((attribute, repr(value)))
    inner = [_describe(backend) for backend in wrapped()] if callable(wrapped) else []
    return (f"{cls.__module__}.{cls.__qualname__}", attributes, inner)
