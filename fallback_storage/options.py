"""The options of :class:`~fallback_storage.storage.FallbackStorage`, checked at construction.

Every option is a keyword argument of the constructor, which is how Django
passes ``STORAGES[alias]["OPTIONS"]``; none falls back to a setting except
``backends`` (to the 1.x ``FALLBACK_STORAGES``). A value that cannot work
raises :class:`~django.core.exceptions.ImproperlyConfigured` in one sentence
naming the option, the value and the fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from fallback_storage.backends import BackendEntry, validate_entries
from fallback_storage.location_cache import validate_options as validate_cache
from fallback_storage.outages import DEFAULT_SKIP_SECONDS, validate_skip

__all__ = ["NAMES", "Options", "parse"]

#: Every option, in the order messages list them.
NAMES = (
    "backends",
    "whiteouts",
    "copy_on_read",
    "copy_on_read_max_size",
    "copy_on_read_skip",
    "cache_timeout",
    "cache_alias",
    "skip_unreachable_for",
)


@dataclasses.dataclass(frozen=True)
class Options:
    """The checked options of one FallbackStorage."""

    entries: list[BackendEntry] | None
    #: None: on exactly where a read-only layer sits below the writable one.
    whiteouts: bool | None
    copy_on_read: bool
    copy_on_read_max_size: int | None
    copy_on_read_skip: tuple[str, ...]
    cache_timeout: float | None
    cache_alias: str | None
    skip_unreachable_for: float | None


def parse(backends: Sequence[BackendEntry] | None, options: dict[str, Any]) -> Options:
    """Check ``backends`` and the other keyword arguments of FallbackStorage."""
    unknown = sorted(set(options) - set(NAMES))
    if unknown:
        raise ImproperlyConfigured(
            f"FallbackStorage got unknown options {unknown}; remove them or use one of "
            f"{list(NAMES)}."
        )
    entries = None if backends is None else validate_entries(backends, "FallbackStorage 'backends'")
    whiteouts = options.get("whiteouts")
    if whiteouts is not None and not isinstance(whiteouts, bool):
        raise ImproperlyConfigured(
            f"FallbackStorage option 'whiteouts' must be True, False or None, got {whiteouts!r}; "
            f"set it to a bool, or leave it out for the default."
        )
    copy_on_read = options.get("copy_on_read", False)
    if not isinstance(copy_on_read, bool):
        raise ImproperlyConfigured(
            f"FallbackStorage option 'copy_on_read' must be True or False, got "
            f"{copy_on_read!r}; set it to a bool."
        )
    max_size = options.get("copy_on_read_max_size")
    if max_size is not None and (
        isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
    ):
        raise ImproperlyConfigured(
            f"FallbackStorage option 'copy_on_read_max_size' must be a number of bytes "
            f"or None, got {max_size!r}; set it to an int of 0 or more."
        )
    skip = options.get("copy_on_read_skip", ())
    if isinstance(skip, str) or not all(isinstance(pattern, str) for pattern in skip):
        raise ImproperlyConfigured(
            f"FallbackStorage option 'copy_on_read_skip' must be a list of glob patterns, "
            f"got {skip!r}; write it as a list of strings, e.g. ['*.mp4']."
        )
    timeout, alias = options.get("cache_timeout"), options.get("cache_alias")
    validate_cache(timeout, alias)
    return Options(
        entries=entries,
        whiteouts=whiteouts,
        copy_on_read=copy_on_read,
        copy_on_read_max_size=max_size,
        copy_on_read_skip=tuple(skip),
        cache_timeout=timeout,
        cache_alias=alias,
        skip_unreachable_for=validate_skip(
            options.get("skip_unreachable_for", DEFAULT_SKIP_SECONDS)
        ),
    )
