"""call_context: the name and mode a storage method was called with."""

from __future__ import annotations

from pathlib import PurePosixPath

from fallback_storage.call_context import arguments, is_recording


def test_the_name_and_mode_are_read_from_positional_or_keyword_arguments() -> None:
    assert arguments(("a.txt", "wb"), {}) == ("a.txt", "wb")
    assert arguments((), {"name": "a.txt", "mode": "rb"}) == ("a.txt", "rb")
    assert arguments((), {"file_root": "a"}) == ("a", None)
    assert arguments((PurePosixPath("d/a.txt"),), {}) == ("d/a.txt", None)
    assert arguments((b"bytes", 3), {}) == (None, None)
    assert not is_recording()
