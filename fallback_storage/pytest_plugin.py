"""pytest plugin for :mod:`fallback_storage.testing`, registered as ``fallback_storage``.

* ``--untouched-bucket NAME`` (repeatable) or the ini option
  ``untouched_buckets``: guard these buckets in every test.
* ``@pytest.mark.untouched_buckets("prod-media", ...)``: guard them in one test.
* ``production_guard("prod-media")``: a fixture that guards from now until the
  end of the test and returns the :class:`~fallback_storage.testing.BucketGuard`.
* ``bucket_snapshot("prod-media")``: a fixture that snapshots the bucket now
  and asserts at teardown that its listing did not change.

Buckets from the option or the ini file are guarded during the setup, call and
teardown of every test, so a write from a fixture is reported against the test
that used it; a marker guards the test function only, so fixtures may seed a
fake (moto) production bucket. A test that sends a request that is not a read
to a guarded bucket fails with the guard's report. Disable the plugin with
``-p no:fallback_storage``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack

import pytest

from fallback_storage.testing import BucketGuard, BucketSnapshot

__all__ = ["bucket_snapshot", "production_guard"]

_MARKER = "untouched_buckets"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fallback_storage", "django-fallback-storage")
    group.addoption(
        "--untouched-bucket",
        action="append",
        default=[],
        dest="untouched_buckets",
        metavar="NAME",
        help="Fail any test that sends an S3 request that is not a read to bucket NAME "
        "(repeatable).",
    )
    parser.addini(
        "untouched_buckets",
        type="args",
        default=[],
        help="Buckets every test must leave untouched, as --untouched-bucket.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(*names): fail the test if an S3 request that is not a read reaches "
        f"one of these buckets (fallback_storage.testing.BucketGuard).",
    )


def guarded_buckets(item: pytest.Item, *, markers: bool = True) -> frozenset[str]:
    """The buckets ``item`` must leave untouched: the option, the ini value and its markers."""
    names: set[str] = set(item.config.getoption("untouched_buckets") or ())
    names.update(item.config.getini("untouched_buckets"))
    for marker in item.iter_markers(_MARKER) if markers else ():
        if not marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.{_MARKER}() on {item.nodeid} names no bucket; "
                f'name the buckets, e.g. @pytest.mark.{_MARKER}("prod-media").'
            )
        names.update(str(name) for name in marker.args)
    return frozenset(names)


def _guard(item: pytest.Item, *, markers: bool) -> Generator[None, object, object]:
    buckets = guarded_buckets(item, markers=markers)
    if not buckets:
        return (yield)
    with BucketGuard(*sorted(buckets)):
        return (yield)


# Buckets named on the command line or in the ini file are guarded in every
# phase (a session fixture that writes is caught too); a marker guards the
# test function only, so its fixtures can seed a fake (moto) production bucket.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guard(item, markers=False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _guard(item, markers=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    return (yield from _guard(item, markers=False))


@pytest.fixture
def production_guard() -> Iterator[Callable[..., BucketGuard]]:
    """Guard buckets from the call until the end of the test: ``production_guard("prod")``.

    Takes the arguments of :class:`~fallback_storage.testing.BucketGuard` and
    returns the guard, whose ``requests``, ``reads`` and ``writes`` the test can
    inspect. A request that is not a read fails the test at teardown.
    """
    with ExitStack() as stack:

        def guard(*buckets: str, block: bool = True) -> BucketGuard:
            return stack.enter_context(BucketGuard(*buckets, block=block))

        yield guard


@pytest.fixture
def bucket_snapshot() -> Iterator[Callable[..., BucketSnapshot]]:
    """Snapshot a bucket now and assert at teardown that it is unchanged.

    ``bucket_snapshot("prod-media", prefix="", client=None)`` returns the
    :class:`~fallback_storage.testing.BucketSnapshot`.
    """
    snapshots: list[BucketSnapshot] = []

    def snapshot(bucket: str, **kwargs: object) -> BucketSnapshot:
        taken = BucketSnapshot.take(bucket, **kwargs)  # type: ignore[arg-type]
        snapshots.append(taken)
        return taken

    yield snapshot
    for taken in snapshots:
        taken.assert_unchanged()
