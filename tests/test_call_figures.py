"""call_figures: totals per layer and the JSON data the panel shows."""

from __future__ import annotations

import json

from fallback_storage.call_figures import layer_totals, log_data
from fallback_storage.call_log import CallLog, LayerCall, RemoteRequest, StorageCall


def test_totals_count_retries_and_a_nested_call_on_the_same_layer_once_in_time() -> None:
    log = CallLog()
    head = RemoteRequest("s3", "HeadObject", "a", status=200, attempts=3)
    nested = LayerCall("prod", "exists", "a", duration=0.25, requests=[head])
    log.add(
        StorageCall(
            "'default'",
            "save",
            "a",
            duration=1.5,
            calls=[
                LayerCall("prod", "get_available_name", "a", duration=0.5, calls=[nested]),
                LayerCall("local", "_save", "a", duration=0.75),
            ],
            own_requests=[RemoteRequest("s3", "GetObject", "a", layer="prod")],
        )
    )
    log.add_later_request(RemoteRequest("s3", "GetObject", "a", layer="prod"))
    log.add_later_request(RemoteRequest("s3", "GetObject", "b"))  # no layer: not counted
    totals = layer_totals(log)
    assert list(totals) == ["prod", "local"]
    prod, local = totals["prod"], totals["local"]
    assert (prod.calls, prod.answered, prod.time, prod.requests) == (2, 0, 0.5, 5)
    assert prod.operations == {"HeadObject": 3, "GetObject": 2}
    assert (local.calls, local.answered, local.time, local.requests) == (1, 1, 0.75, 0)

    data = json.loads(json.dumps(log_data(log)))
    assert data["total_calls"] == 1
    assert data["total_requests"] == 6  # 3 attempts + the own request + two later ones
    assert data["total_time"] == 1500.0
    assert data["layers"][0] == {
        "layer": "prod",
        "calls": 2,
        "answered": 0,
        "time": 500.0,
        "requests": 5,
        "operations": {"HeadObject": 3, "GetObject": 2},
    }
    (call,) = data["calls"]
    assert (call["answered_by"], call["requests"], call["asked"]) == (["local"], 4, 2)
    assert [c["depth"] for c in call["layer_calls"]] == [0, 1, 0]


def test_calls_are_listed_slowest_first() -> None:
    log = CallLog()
    for name, duration in (("fast", 0.001), ("slow", 0.5), ("middle", 0.01)):
        log.add(StorageCall("'default'", "exists", name, duration=duration))
    assert [call["name"] for call in log_data(log)["calls"]] == ["slow", "middle", "fast"]
