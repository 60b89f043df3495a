"""The HTTP client under :class:`~fallback_storage.http.HTTPStorage`, on urllib3.

One :class:`OriginClient` per storage holds one ``urllib3.PoolManager``, which
is thread-safe: every thread of the site shares its keep-alive connections.
It sends only ``GET`` and ``HEAD`` (anything else is refused here, before a
connection is touched), follows at most :data:`MAX_REDIRECTS` redirects, and
retries what is worth retrying:

* a connection that could not be made or broke before an answer (refused,
  reset, a stale keep-alive connection), and the answers 429, 502, 503 and
  504, up to ``retries`` times, waiting ``backoff_factor * 2 ** (n - 1)``
  seconds before the n-th retry after the first (urllib3's rule), never more
  than :data:`MAX_WAIT` seconds, also when the origin asks for longer with
  ``Retry-After``;
* never a timeout: an origin that does not answer costs one ``timeout``, not
  one per retry, so a site whose production is down stays usable.

Every failure is raised as one of the package's exceptions
(:mod:`fallback_storage.exceptions`), whose message names the storage, the
URL and the cause.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any, NoReturn

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    IncompleteRead,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util.retry import Retry

from fallback_storage.exceptions import (
    HTTPOriginError,
    OriginTimeoutError,
    OriginUnreachableError,
)

__all__ = ["MAX_REDIRECTS", "MAX_WAIT", "READ_METHODS", "OriginClient"]

logger = logging.getLogger(__name__)

#: The only methods ever sent.
READ_METHODS = frozenset({"GET", "HEAD"})
#: Redirects followed for one request; one more is an error.
MAX_REDIRECTS = 5
#: The longest wait between two tries, in seconds (backoff and ``Retry-After`` alike).
MAX_WAIT = 5.0
#: Answers that mean "try again shortly".
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Connections kept open per host, shared by all threads.
POOL_SIZE = 10
#: An error body longer than this is not read to keep its connection; the connection is closed.
DRAIN_LIMIT = 64 * 1024


def _is_timeout(error: BaseException | None) -> bool:
    # NewConnectionError (refused, no such host) is a ConnectTimeoutError in urllib3.
    return isinstance(error, ReadTimeoutError) or (
        isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError)
    )


class _Retry(Retry):
    """urllib3's Retry, except that timeouts are never retried and no wait exceeds MAX_WAIT."""

    def increment(  # type: ignore[override]
        self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any
    ) -> Retry:
        error = kwargs.get("error")
        if _is_timeout(error):
            raise error  # type: ignore[misc]
        return super().increment(method, url, *args, **kwargs)

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_WAIT)


class OriginClient:
    """A pool of connections to one origin, and the mapping of its failures to exceptions.

    ``layer`` is how messages name the storage (its ``repr``); ``verify`` is
    True (check certificates against the system's CAs), False (do not) or the
    path of a CA bundle file or directory.
    """

    def __init__(
        self,
        layer: str,
        *,
        timeout: float,
        retries: int,
        backoff_factor: float,
        verify: bool | str,
        headers: Mapping[str, str],
    ) -> None:
        self.layer = layer
        self.timeout = timeout
        self.retry = _Retry(
            total=None,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=MAX_REDIRECTS,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=MAX_WAIT,
            raise_on_status=False,
        )
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if verify is not False else "CERT_NONE"}
        if isinstance(verify, str):
            tls["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
        self.pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=POOL_SIZE,
            headers=dict(headers),
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=self.retry,
            **tls,
        )

    def request(self, method: str, url: str) -> urllib3.BaseHTTPResponse:
        """Send ``method`` (GET or HEAD) to ``url``; the response's body is not read yet."""
        if method not in READ_METHODS:
            raise ValueError(
                f"{self.layer} refused to send {method} to {url}: it sends only GET and HEAD."
            )
        started = time.perf_counter()
        try:
            response = self.pool.urlopen(method, url, preload_content=False, redirect=True)
        except (HTTPError, OSError) as error:
            self.fail(url, error)
        logger.debug(
            "%s %s -> %s (%.0f ms)",
            method,
            url,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def head(self, url: str) -> urllib3.BaseHTTPResponse:
        """Send HEAD to ``url``; the connection is back in the pool when this returns."""
        response = self.request("HEAD", url)
        response.drain_conn()
        response.release_conn()
        return response

    def fail(self, url: str, error: BaseException, *, during: str = "") -> NoReturn:
        """Raise the package's exception for urllib3's (or the socket's) ``error``."""
        cause = error.reason if isinstance(error, MaxRetryError) and error.reason else error
        cause = cause.args[-1] if _wraps_incomplete_read(cause) else cause
        where = f"{self.layer} {during or 'could not read'} {url}"
        if _is_timeout(cause) or isinstance(cause, TimeoutError):
            kind = "connect" if isinstance(cause, ConnectTimeoutError) else "answer"
            raise OriginTimeoutError(
                f"{where}: the origin did not {kind} within the 'timeout' of {self.timeout!r} "
                f"seconds ({_describe(cause)}); check that it is up, or raise 'timeout'.",
                layer=self.layer,
                url=url,
            ) from error
        if isinstance(cause, IncompleteRead):
            raise HTTPOriginError(
                f"{where}: the body ended after {cause.partial} bytes, {cause.expected} short "
                f"of its Content-Length; the origin or a proxy cut the transfer, try again.",
                layer=self.layer,
                url=url,
                status=200,
            ) from error
        if isinstance(cause, ResponseError) and "redirect" in str(cause):
            raise HTTPOriginError(
                f"{where}: more than {MAX_REDIRECTS} redirects (a redirect loop?); point "
                f"'base_url' at where the files are served.",
                layer=self.layer,
                url=url,
            ) from error
        if isinstance(cause, SSLError):
            raise OriginUnreachableError(
                f"{where}: TLS failed ({_describe(cause)}); if the origin's certificate is "
                f"signed by a private CA, set 'verify' to the path of that CA's bundle.",
                layer=self.layer,
                url=url,
            ) from error
        raise OriginUnreachableError(
            f"{where}: the connection failed ({_describe(cause)}); check that the origin is up "
            f"and that 'base_url' is right.",
            layer=self.layer,
            url=url,
        ) from error

    def discard(self, response: urllib3.BaseHTTPResponse) -> None:
        """Give an unwanted response's connection back to the pool, or close it."""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= DRAIN_LIMIT:
            response.drain_conn()
        else:
            response.close()
        response.release_conn()

    def close(self) -> None:
        """Close every pooled connection; later requests open new ones."""
        self.pool.clear()


def _wraps_incomplete_read(error: BaseException) -> bool:
    return isinstance(error, ProtocolError) and isinstance(error.args[-1], IncompleteRead)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
