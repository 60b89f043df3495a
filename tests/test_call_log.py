"""call_log: which layer answered a storage call, judged from the calls it made."""

from __future__ import annotations

from fallback_storage.call_log import LayerCall, StorageCall, answered_by


def call(operation: str, *calls: LayerCall, mode: str | None = None) -> StorageCall:
    return StorageCall("'default'", operation, "a", mode=mode, calls=[*calls])


def test_the_last_layer_call_that_returned_an_answer_answered() -> None:
    asked = call(
        "exists",
        LayerCall("local", "exists", "a", outcome="no"),
        LayerCall("local", "exists", ".wh.a", outcome="answered"),  # a marker: bookkeeping
        LayerCall("prod", "exists", "a"),
    )
    assert answered_by(asked) == ["prod"]
    assert answered_by(call("exists", LayerCall("local", "exists", "a", outcome="no"))) == []


def test_of_a_write_only_the_layer_calls_that_write_count() -> None:
    saved = call(
        "save",
        LayerCall("local", "_save", "a"),
        LayerCall("prod", "exists", "a"),  # asked on the way
    )
    assert answered_by(saved) == ["local"]
    opened = call("open", LayerCall("local", "open", "a", mode="wb"), mode="wb")
    assert answered_by(opened) == ["local"]


def test_listdir_is_answered_by_every_layer_whose_listing_returned() -> None:
    listed = call(
        "listdir",
        LayerCall("local", "listdir", "a"),
        LayerCall("down", "listdir", "a", outcome="failed"),
        LayerCall("prod", "listdir", "a"),
    )
    assert answered_by(listed) == ["local", "prod"]


def test_a_nested_storage_is_followed_down_to_its_layer_and_a_failed_call_has_none() -> None:
    deep = LayerCall("outer 1 › inner 0", "exists", "a")
    inner = LayerCall("outer 1", "exists", "a", calls=[deep])
    assert answered_by(call("exists", inner)) == ["outer 1 › inner 0"]
    failed = call("size", LayerCall("local", "size", "a"))
    failed.error = "OSError: boom"
    assert answered_by(failed) == []


def test_layer_calls_are_walked_depth_first_in_order() -> None:
    top = call(
        "save",
        LayerCall("l", "get_available_name", "a", calls=[LayerCall("l", "exists", "a")]),
        LayerCall("l", "_save", "a"),
    )
    assert [(depth, c.method) for depth, c in top.layer_calls()] == [
        (0, "get_available_name"),
        (1, "exists"),
        (0, "_save"),
    ]
