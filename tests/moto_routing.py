"""moto's server routes each host name once per test process.

For every request, moto's server (``ThreadedMotoServer``, and ``counting_s3.CountingS3Server``
which serves moto's app) works out which service a host name belongs to: it lists moto's own
package directory, ``stat``s each of its hundred and fifty entries, then tries the URL patterns
of every service until one matches. It does this holding one lock, so concurrent requests wait
in line for it: in ``test_concurrency.py`` most of the server's time went there. The answer for
a host name never changes within a process (the same directory, the same patterns), so here it
is worked out once per host name and remembered. Requests, responses and moto's state stay
moto's own.
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

__all__ = ["route_each_host_once"]


def route_each_host_once() -> None:
    """Remember ``DomainDispatcherApplication.get_backend_for_host`` per host name."""
    original = DomainDispatcherApplication.get_backend_for_host
    routes: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in routes:
            routes[host] = original(self, host)
        return routes[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
