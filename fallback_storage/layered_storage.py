"""What a FallbackStorage is made of, apart from its operations.

:class:`LayeredStorage` keeps the checked options and builds the layers
(:class:`~fallback_storage.layers.Layers`) at first use, rebuilding them when
``STORAGES`` or ``FALLBACK_STORAGES`` change; it makes the storage picklable,
and passes attributes the backends have (``location``, ``base_url``,
``bucket_name``...) through to them, for reading and for assigning, so the
storage can be introspected and configured like the one it wraps.
:class:`~fallback_storage.storage.FallbackStorage` adds the operations.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from fallback_storage.available_names import NameChoice
from fallback_storage.backends import (
    BackendEntry,
    build_backend,
    building,
    legacy_entries,
    watch_settings,
)
from fallback_storage.layers import Layers
from fallback_storage.location_cache import LocationCache
from fallback_storage.options import Options, parse

__all__ = ["LayeredStorage"]


class LayeredStorage(NameChoice):
    """Options, layers built at first use, pickling and attributes of the backends."""

    def __init__(self, backends: Sequence[BackendEntry] | None = None, **options: Any) -> None:
        self._built: Layers | None = None
        self._invalid: ImproperlyConfigured | None = None
        try:
            self._options: Options = parse(backends, options)
        except ImproperlyConfigured as error:
            if apps.ready:
                raise
            # Built while Django starts (an app's ready() builds the default storage):
            # raise at first use instead, so `manage.py check` can report it (E002).
            self._invalid = error
            self._options = parse(None, {})
        timeout, alias = self._options.cache_timeout, self._options.cache_alias
        self._cache = None if timeout is None else LocationCache(timeout, alias)
        self._lock = threading.RLock()
        self._start_reservations()
        watch_settings(self)

    # -- the backends and their attributes --------------------------------------------------

    @property
    def backends(self) -> tuple[Any, ...]:
        """The built backends, in the order they are tried."""
        return self._built_layers().backends

    @property
    def read_only(self) -> bool:
        """Whether every backend is read-only, so no write can succeed."""
        return self._built_layers().writable is None

    def _wrapped_backends(self) -> tuple[Any, ...]:
        return self.backends

    def _built_layers(self) -> Layers:
        built = self._built
        if built is not None:
            return built
        if self._invalid is not None:
            raise self._invalid
        with self._lock, building(self, "FallbackStorage"):
            if self._built is None:
                if self._options.entries is None:
                    entries = legacy_entries("FallbackStorage")
                    label = "settings.FALLBACK_STORAGES"
                else:
                    entries, label = self._options.entries, "FallbackStorage 'backends'"
                backends = tuple(build_backend(entry, label) for entry in entries)
                self._built = Layers(backends, self._options, self._cache)
            return self._built

    def _reset_backends(self) -> None:
        with self._lock:
            self._built = None
            if self._cache is not None:
                self._cache.unbind()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_built"] = None
        for unpicklable in ("_lock", "_reserved", "_reservation_lock", "_saving"):
            del state[unpicklable]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._start_reservations()
        watch_settings(self)

    def __setattr__(self, attribute: str, value: Any) -> None:
        # Assigning an attribute the backends have (base_url, location...) sets it on every
        # backend that has it, so the storage keeps behaving as one.
        if attribute.startswith("_") or hasattr(type(self), attribute):
            super().__setattr__(attribute, value)
            return
        having = [backend for backend in self.backends if hasattr(backend, attribute)]
        if not having:
            super().__setattr__(attribute, value)
        for backend in having:
            setattr(backend, attribute, value)
        if having:
            self._built_layers().reconfigured()  # the backends may answer differently now

    def __getattr__(self, attribute: str) -> Any:
        # Attributes a backend has and Storage does not (location, base_url,
        # bucket_name...) read through from the first backend that has them.
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        for backend in self.backends:
            try:
                return getattr(backend, attribute)
            except AttributeError:
                continue
        raise AttributeError(
            f"Neither FallbackStorage nor any of its backends has an attribute {attribute!r}."
        )
