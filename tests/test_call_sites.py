"""call_sites: the line of the user's code a guard's report names."""

from __future__ import annotations

import os
import sys
import types

from fallback_storage import call_sites

THIS_FILE = os.path.relpath(__file__)


def test_within_matches_the_package_and_its_modules_only() -> None:
    assert call_sites.within("botocore", ("botocore",))
    assert call_sites.within("botocore.client", ("botocore",))
    assert not call_sites.within("botocorex", ("botocore",))
    assert not call_sites.within("tests.test_call_sites", ("botocore", "django"))


def test_the_caller_is_the_first_frame_outside_them() -> None:
    line = sys._getframe().f_lineno + 1
    named = call_sites.caller(("fallback_storage",), ("django", "storages"))
    assert named == f"{THIS_FILE}:{line} in test_the_caller_is_the_first_frame_outside_them"


def test_frames_of_the_libraries_are_passed_over() -> None:
    # This module stands for a library: the frame named is pytest's, which called the test.
    named = call_sites.caller((), (__name__,))
    assert "_pytest" in named
    assert THIS_FILE not in named


def test_when_every_frame_is_a_library_the_first_outside_the_machinery_is_named() -> None:
    modules: set[str] = set()
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:
        modules.add(str(frame.f_globals.get("__name__", "")))
        frame = frame.f_back

    def sends_the_request() -> str:  # the machinery, here a function of this test
        return call_sites.caller(("fallback_storage",), tuple(modules))

    line = sys._getframe().f_lineno - 2
    assert sends_the_request() == f"{THIS_FILE}:{line} in sends_the_request"


def test_an_origin_names_a_frame_itself() -> None:
    def origin(frame: types.FrameType) -> str | None:
        return "x.py:1 in queued" if frame.f_code.co_name == "worker" else None

    def worker() -> str:
        return call_sites.caller(("fallback_storage",), (), origin)

    assert worker() == "x.py:1 in queued"


def test_an_unknown_place_when_no_frame_is_outside_the_machinery() -> None:
    modules: set[str] = set()
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:
        modules.add(str(frame.f_globals.get("__name__", "")))
        frame = frame.f_back
    assert call_sites.caller(tuple(modules)) == "an unknown place"


def test_where_names_the_path_line_and_function() -> None:
    line = sys._getframe().f_lineno + 1
    named = call_sites.where(sys._getframe())
    assert named == f"{THIS_FILE}:{line} in test_where_names_the_path_line_and_function"
