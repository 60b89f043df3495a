"""A django-debug-toolbar panel: each request's storage calls through a FallbackStorage.

Add it to the toolbar's panels (``pip install "django-fallback-storage[toolbar]"``,
with ``"fallback_storage"`` in ``INSTALLED_APPS`` for its template)::

    DEBUG_TOOLBAR_PANELS = [
        *debug_toolbar.settings.PANELS_DEFAULTS,
        "fallback_storage.toolbar_panel.FallbackStoragePanel",
    ]

For each request the panel records (:mod:`fallback_storage.call_recording`)
every storage call made through a FallbackStorage while the view runs, and
shows the totals per layer, the calls slowest first with the layer that
answered and the requests each remote layer received, and a banner for each
write a read-only layer refused. The side bar shows how many calls and how long.
"""

from __future__ import annotations

from typing import Any

from debug_toolbar.panels import Panel
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from fallback_storage.call_figures import log_data
from fallback_storage.call_log import CallLog
from fallback_storage.call_recording import recording

__all__ = ["FallbackStoragePanel"]


class FallbackStoragePanel(Panel):
    """The storage calls of one request, per layer and slowest first, with refused writes."""

    title = _("Fallback storage")
    nav_title = _("Storage")
    template = "fallback_storage/toolbar_panel.html"

    def process_request(self, request: HttpRequest) -> HttpResponse:
        """Run the view (and the panels after this one) while recording its storage calls."""
        with recording() as log:
            response: HttpResponse = super().process_request(request)  # type: ignore[no-untyped-call]
        self._log: CallLog | None = log
        return response

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        """Store the recording as plain data, which the toolbar keeps for the request."""
        log = getattr(self, "_log", None)
        data = log_data(log if log is not None else CallLog())
        self.record_stats(data)  # type: ignore[no-untyped-call]

    @property
    def nav_subtitle(self) -> str:
        """``5 calls in 72.4 ms``, and how many writes were refused, if any."""
        stats: dict[str, Any] = self.get_stats()  # type: ignore[no-untyped-call]
        calls = int(stats.get("total_calls", 0))
        time = float(stats.get("total_time", 0.0))
        text = ngettext(
            "%(calls)d call in %(time).1f ms", "%(calls)d calls in %(time).1f ms", calls
        )
        subtitle = text % {"calls": calls, "time": time}
        refusals = len(stats.get("refusals", ()))
        if refusals:
            subtitle += (
                ", " + ngettext("%d write refused", "%d writes refused", refusals) % refusals
            )
        return subtitle
