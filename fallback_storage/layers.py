"""The built layers of one FallbackStorage, and the rules chosen for them.

A :class:`Layers` is made each time a :class:`~fallback_storage.storage.FallbackStorage`
builds its backends. It holds the backends in order, the *writable layer* (the
first backend that is not ``read_only``, which receives writes and whiteout
markers) and the rules its options switch on, each a small object the lookup
and the writes plug in: :class:`~fallback_storage.whiteouts.Whiteouts`,
:class:`~fallback_storage.copy_up.CopyUp`,
:class:`~fallback_storage.location_cache.LocationCache` and
:class:`~fallback_storage.outages.Outages`. A rule that is off is None.
"""

from __future__ import annotations

from django.core.files.storage import Storage

from fallback_storage.copy_up import CopyUp
from fallback_storage.failures import layer
from fallback_storage.location_cache import Location, LocationCache, found_in
from fallback_storage.name_checks import local_roots
from fallback_storage.options import Options
from fallback_storage.outages import Outages
from fallback_storage.whiteouts import Whiteouts

__all__ = ["Layers", "is_read_only"]


def is_read_only(storage: object) -> bool:
    """Whether ``storage`` refuses every write (``read_only = True``)."""
    return getattr(storage, "read_only", False) is True


class Layers:
    """The backends of a FallbackStorage, in order, with the rules that apply to them."""

    def __init__(
        self, backends: tuple[Storage, ...], options: Options, cache: LocationCache | None
    ) -> None:
        self.backends = backends
        self.count = len(backends)
        self.last = backends[-1]
        self.labels = tuple(layer(index, backend) for index, backend in enumerate(backends))
        #: Where the local layers keep their files: absolute names inside are taken as meant.
        self.roots = local_roots(backends)
        self.writable = next(
            (index for index, backend in enumerate(backends) if not is_read_only(backend)), None
        )
        #: Where writes go: the writable layer, else the first (which refuses them).
        self.target = backends[self.writable or 0]
        self.whiteouts = self._whiteouts(options)
        self.cache = cache
        if cache is not None:
            cache.bind(backends)
        self.outages = (
            None
            if options.skip_unreachable_for is None
            else Outages(options.skip_unreachable_for, self.labels)
        )
        #: The layers in an outage (index -> until when), empty when none is or outages are off.
        self.down = {} if self.outages is None else self.outages.down
        #: Whether no rule but outages has a say about the first layer, so the lookup asks it
        #: straight away: no location cache, and no whiteout can hide its files.
        self.first_unruled = cache is None and (self.whiteouts is None or self.writable == 0)
        #: What the location cache returns for a name in the writable layer, whose files no
        #: whiteout hides: the lookup asks that layer straight away. Without a writable layer,
        #: a Location the cache never returns.
        self.in_writable = Location(-1, False) if self.writable is None else found_in(self.writable)
        self.copy_up = CopyUp(
            target=self.target,
            label=self.labels[self.writable or 0],
            on_read=options.copy_on_read and self.writable is not None,
            before_update=self.whiteouts is not None or options.copy_on_read,
            max_size=options.copy_on_read_max_size,
            skip=options.copy_on_read_skip,
            changed=self.changed,
        )

    def _whiteouts(self, options: Options) -> Whiteouts | None:
        writable = self.writable
        if writable is None or options.whiteouts is False:
            return None
        below = self.backends[writable + 1 :]
        if options.whiteouts is None and not any(is_read_only(layer) for layer in below):
            return None  # the 1.x rule for a list of writable backends
        lower = [layer for index, layer in enumerate(self.backends) if index != writable]
        return Whiteouts(self.target, self.labels[writable], lower)

    def changed(self, *names: str) -> None:
        """Forget what is known about ``names``, which were just written or deleted."""
        if self.cache is not None:
            self.cache.forget(names)

    def changed_many(self) -> None:
        """Forget everything known: a change reached names that cannot be listed one by one."""
        if self.cache is not None:
            self.cache.forget_all()

    def reconfigured(self) -> None:
        """A backend attribute was assigned (``location``, ``base_url``): learn it again."""
        self.roots = local_roots(self.backends)
        self.changed_many()
