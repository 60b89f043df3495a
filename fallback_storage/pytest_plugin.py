"""pytest plugin for :mod:`fallback_storage.testing`, registered as ``fallback_storage``.

* ``--untouched-bucket NAME`` (repeatable) or the ini option
  ``untouched_buckets``: guard these buckets in every test.
* ``@pytest.mark.untouched_buckets("prod-media", ...)``: guard them in one test.
* ``production_guard("prod-media")``: a fixture that guards from now until the
  end of the test and returns the :class:`~fallback_storage.testing.BucketGuard`.
* ``bucket_snapshot("prod-media")``: a fixture that snapshots the bucket now
  and asserts at teardown that its listing did not change.
* ``--untouched-storage ALIAS`` (repeatable), the ini option
  ``untouched_storages``, ``@pytest.mark.untouched_storages("production", ...)``
  and the ``storage_guard("production")`` fixture do the same for any storage,
  with :class:`~fallback_storage.storage_guard.StorageGuard`: a write through the
  storage API (save, delete, write-mode open, a backend's own write methods)
  fails the test.

Buckets and storages from the options or the ini file are guarded during the setup, call and
teardown of every test, so a write from a fixture is reported against the test
that used it; a marker guards the test function only, so fixtures may seed a
fake (moto) production bucket or storage. A test that sends a request that is
not a read to a guarded bucket, or writes to a guarded storage, fails with the
guard's report. Disable the plugin with
``-p no:fallback_storage``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.core.files.storage import Storage

from fallback_storage.testing import BucketGuard, BucketSnapshot, StorageGuard

__all__ = ["bucket_snapshot", "production_guard", "storage_guard"]

_MARKER = "untouched_buckets"
_STORAGE_MARKER = "untouched_storages"


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
    group.addoption(
        "--untouched-storage",
        action="append",
        default=[],
        dest="untouched_storages",
        metavar="ALIAS",
        help="Fail any test that writes to the storage settings.STORAGES[ALIAS] (repeatable).",
    )
    parser.addini(
        "untouched_storages",
        type="args",
        default=[],
        help="Aliases of settings.STORAGES every test must leave untouched, as "
        "--untouched-storage.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(*names): fail the test if an S3 request that is not a read reaches "
        f"one of these buckets (fallback_storage.testing.BucketGuard).",
    )
    config.addinivalue_line(
        "markers",
        f"{_STORAGE_MARKER}(*aliases_or_storages): fail the test if a write reaches one of "
        f"these storages (fallback_storage.storage_guard.StorageGuard).",
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


def guarded_storages(item: pytest.Item, *, markers: bool = True) -> tuple[str | Storage, ...]:
    """The storages ``item`` must leave untouched: the option, the ini value and its markers."""
    targets: dict[object, str | Storage] = {}
    for alias in [
        *(item.config.getoption("untouched_storages") or ()),
        *item.config.getini("untouched_storages"),
    ]:
        targets.setdefault(alias, alias)
    for marker in item.iter_markers(_STORAGE_MARKER) if markers else ():
        if not marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.{_STORAGE_MARKER}() on {item.nodeid} names no storage; "
                f'name them, e.g. @pytest.mark.{_STORAGE_MARKER}("production").'
            )
        for target in marker.args:
            targets.setdefault(target if isinstance(target, str) else id(target), target)
    return tuple(targets.values())


def _guard(item: pytest.Item, *, markers: bool) -> Generator[None, object, object]:
    buckets = guarded_buckets(item, markers=markers)
    targets = guarded_storages(item, markers=markers)
    with ExitStack() as stack:
        if buckets:
            stack.enter_context(BucketGuard(*sorted(buckets)))
        if targets:
            stack.enter_context(StorageGuard(*targets))
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
def storage_guard() -> Iterator[Callable[..., StorageGuard]]:
    """Guard storages from the call until the end of the test: ``storage_guard("production")``.

    Takes the arguments of :class:`~fallback_storage.storage_guard.StorageGuard`
    (aliases of ``settings.STORAGES`` or storages, ``block``, ``read_methods``)
    and returns the guard, whose ``writes`` the test can inspect. A write fails
    the test at teardown.
    """
    with ExitStack() as stack:

        def guard(*targets: str | Storage, **options: Any) -> StorageGuard:
            return stack.enter_context(StorageGuard(*targets, **options))

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
