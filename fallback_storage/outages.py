"""Stop asking a layer that cannot be reached, for a while.

When a layer of a :class:`~fallback_storage.storage.FallbackStorage` fails to
connect or times out (production down, a VPN dropped, a server that accepts
connections and never answers), every later call that reaches it would wait for
the same timeout again: a page with 50 production images would take 50
timeouts. After such a failure the layer is skipped for
``skip_unreachable_for`` seconds (default 30): a read that only that layer
could answer fails at once with
:class:`~fallback_storage.exceptions.LayerUnreachableError`, which says when
the layer is tried again, and reads the other layers can answer are unaffected.
The first call after that time asks the layer again; the outage is logged once
when it starts and once when it ends.

Only failures to reach the layer count: connection refused, reset or aborted,
and timeouts, from the standard library, urllib3, botocore, requests and
azure-core. An answer, even an error answer (403, 500), means the layer is up.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timedelta
from typing import NamedTuple

from django.core.exceptions import ImproperlyConfigured

from fallback_storage.exceptions import LayerUnreachableError

__all__ = ["DEFAULT_SKIP_SECONDS", "Outages", "is_unreachable", "validate_skip"]

logger = logging.getLogger(__name__)

#: How long an unreachable layer is skipped unless ``skip_unreachable_for`` says otherwise.
DEFAULT_SKIP_SECONDS = 30.0

# Exception class names, anywhere in the error's class hierarchy, that mean the
# layer could not be reached: the builtins, and their equivalents in the HTTP
# clients cloud SDKs use, which do not subclass the builtins.
_UNREACHABLE_NAMES = frozenset(
    {
        "ConnectionError",  # builtin, botocore, requests
        "TimeoutError",  # builtin (socket.timeout)
        "EndpointConnectionError",  # botocore
        "ConnectTimeoutError",  # botocore, urllib3
        "ReadTimeoutError",  # botocore, urllib3
        "ConnectionClosedError",  # botocore
        "NewConnectionError",  # urllib3
        "ProtocolError",  # urllib3: connection aborted mid-response
        "ConnectTimeout",  # requests
        "ReadTimeout",  # requests
        "ServiceRequestError",  # azure-core: the request could not be sent
        "ServiceResponseError",  # azure-core: no response came back
    }
)


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the layer could not be reached (refused, reset, timed out)."""
    return any(cls.__name__ in _UNREACHABLE_NAMES for cls in type(error).__mro__)


def validate_skip(seconds: object) -> float | None:
    """The ``skip_unreachable_for`` option as seconds, or None when it is off."""
    if seconds is None or seconds == 0:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ImproperlyConfigured(
            f"FallbackStorage 'skip_unreachable_for' must be a number of seconds or None, "
            f"got {seconds!r}; set it to e.g. 30, or to None to always ask every layer."
        )
    if not 0 < seconds < math.inf:
        raise ImproperlyConfigured(
            f"FallbackStorage 'skip_unreachable_for' must be a positive, finite number of "
            f"seconds, got {seconds!r}; set it to e.g. 30, or to None to always ask every layer."
        )
    return float(seconds)


class _Outage(NamedTuple):
    until: float  # time.monotonic() after which the layer is asked again
    retry_at: datetime  # the same moment, on the wall clock, for messages
    cause: str


class Outages:
    """The layers of one FallbackStorage that are being skipped, and until when."""

    def __init__(self, seconds: float, labels: tuple[str, ...]) -> None:
        self.seconds = seconds
        self.labels = labels
        self.down: dict[int, _Outage] = {}
        self._lock = threading.Lock()

    def skipped(self, index: int, name: str | None) -> LayerUnreachableError | None:
        """The error to record instead of asking layer ``index``, or None to ask it."""
        outage = self.down.get(index)
        if outage is None:
            return None
        left = outage.until - time.monotonic()
        if left <= 0:
            return None  # time to try again; a failure starts a new outage
        return LayerUnreachableError(
            f"{self.labels[index]} was not asked for {name!r}: it could not be reached "
            f"({outage.cause}), so FallbackStorage skips it until "
            f"{outage.retry_at:%H:%M:%S} (in {math.ceil(left)} s); the other layers were asked.",
            layer=self.labels[index],
            retry_at=outage.retry_at,
        )

    def failed(self, index: int, error: BaseException) -> None:
        """Start an outage of layer ``index`` if ``error`` says it could not be reached."""
        if not is_unreachable(error):
            return
        cause = f"{type(error).__name__}: {error}"
        with self._lock:
            already = index in self.down
            self.down[index] = _Outage(
                time.monotonic() + self.seconds,
                datetime.now() + timedelta(seconds=self.seconds),
                cause,
            )
        if not already:
            logger.warning(
                "%s cannot be reached (%s); FallbackStorage skips it for %g s.",
                self.labels[index],
                cause,
                self.seconds,
            )

    def answered(self, index: int) -> None:
        """End the outage of layer ``index``, which just answered."""
        if index in self.down:
            with self._lock:
                ended = self.down.pop(index, None)
            if ended is not None:
                logger.warning("%s answers again.", self.labels[index])
