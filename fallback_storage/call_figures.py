"""The figures drawn from a :class:`~fallback_storage.call_log.CallLog`: totals per layer,
and the whole log as plain JSON data (what the debug-toolbar panel stores and shows).

Times in the JSON data are milliseconds; request counts are what the servers
received (a request retried twice counts three times).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fallback_storage.call_log import CallLog, LayerCall, RemoteRequest, StorageCall, answered_by

__all__ = ["LayerTotals", "layer_totals", "log_data"]


@dataclasses.dataclass
class LayerTotals:
    """What one layer did in a recording."""

    layer: str
    calls: int = 0  # layer calls, nested ones included
    answered: int = 0  # storage calls this layer answered (see answered_by)
    time: float = 0.0  # seconds; a call nested in a call on the same layer counts once
    requests: int = 0  # requests its service received, retries included
    operations: dict[str, int] = dataclasses.field(default_factory=dict)  # "HeadObject": 2

    def add_requests(self, requests: list[RemoteRequest]) -> None:
        for request in requests:
            self.requests += request.attempts
            self.operations[request.operation] = (
                self.operations.get(request.operation, 0) + request.attempts
            )


def layer_totals(log: CallLog) -> dict[str, LayerTotals]:
    """Per layer label, in the order the layers were first seen: what it did."""
    totals: dict[str, LayerTotals] = {}

    def entry(label: str) -> LayerTotals:
        return totals.setdefault(label, LayerTotals(label))

    def add(call: LayerCall, parent: str | None) -> None:
        layer = entry(call.layer)
        layer.calls += 1
        if call.layer != parent:
            layer.time += call.duration
        layer.add_requests(call.requests)
        for child in call.calls:
            add(child, call.layer)

    for call in log.calls:
        for top in call.calls:
            add(top, None)
        for label in answered_by(call):
            entry(label).answered += 1
        for request in call.own_requests:
            if request.layer is not None:
                entry(request.layer).add_requests([request])
    for request in log.later_requests:
        if request.layer is not None:
            entry(request.layer).add_requests([request])
    return totals


def log_data(log: CallLog) -> dict[str, Any]:
    """The whole log as plain JSON data, slowest calls first, times in milliseconds."""
    layers = [
        {**dataclasses.asdict(totals), "time": _ms(totals.time)}
        for totals in layer_totals(log).values()
    ]
    return {
        "calls": [_call_data(call) for call in log.slowest()],
        "layers": layers,
        "later_requests": [_request_data(r) for r in log.later_requests],
        "refusals": [
            {
                "storage": refusal.storage,
                "layer": refusal.layer,
                "operation": refusal.operation,
                "name": refusal.name,
                "message": refusal.message,
                "call": refusal.call.operation,
                "written_to": answered_by(refusal.call) if refusal.call.writes else [],
            }
            for refusal in log.refusals
        ],
        "total_calls": len(log.calls),
        "total_requests": sum(request.attempts for request in log.requests()),
        "total_time": _ms(sum(call.duration for call in log.calls)),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _request_data(request: RemoteRequest) -> dict[str, Any]:
    return {**dataclasses.asdict(request), "duration": _ms(request.duration)}


def _call_data(call: StorageCall) -> dict[str, Any]:
    return {
        "storage": call.storage,
        "operation": call.operation,
        "name": call.name,
        "mode": call.mode,
        "direct": call.direct,
        "time": _ms(call.duration),
        "error": call.error,
        "answered_by": answered_by(call),
        "asked": len(call.calls),
        "requests": sum(request.attempts for request in call.requests()),
        "layer_calls": [
            {
                "depth": depth,
                "layer": layer_call.layer,
                "method": layer_call.method,
                "name": layer_call.name,
                "mode": layer_call.mode,
                "outcome": layer_call.outcome,
                "error": layer_call.error,
                "time": _ms(layer_call.duration),
                "requests": [_request_data(r) for r in layer_call.requests],
            }
            for depth, layer_call in call.layer_calls()
        ],
    }
