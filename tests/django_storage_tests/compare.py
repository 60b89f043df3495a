"""Run Django's own storage tests bare and wrapped, and compare the outcomes test by test.

Run by ``tox -e djangotests-django{42,52,61}`` (``pytest tests/django_storage_tests/compare.py``
with ``--ds django_storage_tests.settings``), after ``fetch.py`` extracted the installed
Django's ``tests/file_storage/``. Each test of Django's ``FileStorageTests``,
``CustomStorageTests`` and ``DiscardingFalseContentStorageTests`` runs, through unittest as
Django's runner would run it, in three variants:

* ``bare``: the classes as Django wrote them, on the storage class they test;
* ``fallback``: every storage the test builds is wrapped as ``FallbackStorage([storage])``;
* ``fallback-readonly``: as ``FallbackStorage([storage, ReadOnlyStorage(InMemoryStorage())])``,
  the shape of a development site over an (here empty) read-only production layer. The empty
  layer serves the same ``base_url`` as the storage, so that the URL of a name no layer has,
  which comes from the last layer, is the one Django's tests expect.

A ``bare`` item passes when Django's test passes (or is skipped) on the bare storage, which
shows the harness runs the tests as Django does. A wrapped item passes when the wrapped test
has exactly the bare outcome: passed where bare passed, skipped only where bare skipped and for
the same reason. The summary at the end counts the outcomes of each variant.
"""

from __future__ import annotations

import importlib
import unittest
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.storage import InMemoryStorage, Storage

from fallback_storage.storage import FallbackStorage, ReadOnlyStorage

CLASSES = ("FileStorageTests", "CustomStorageTests", "DiscardingFalseContentStorageTests")
WRAPPED = ("fallback", "fallback-readonly")
VARIANTS = ("bare", *WRAPPED)

django_tests: Any = importlib.import_module("file_storage.tests")


@dataclass(frozen=True)
class Outcome:
    """What unittest made of one test: passed, failed, error, skipped (with the reason)..."""

    kind: str
    detail: str = ""

    def matches(self, other: Outcome) -> bool:
        if self.kind == "skipped" or other.kind == "skipped":
            return (self.kind, self.detail) == (other.kind, other.detail)
        return self.kind == other.kind


# variant -> "Class.test" -> outcome, filled as the items run; conftest.py prints the summary.
RESULTS: dict[str, dict[str, Outcome]] = {variant: {} for variant in VARIANTS}


def wrapping(storage_class: type[Storage], variant: str) -> Callable[..., Storage]:
    """A stand-in for ``storage_class`` that builds the storage and wraps it."""

    def build(*args: Any, **kwargs: Any) -> Storage:
        storage = storage_class(*args, **kwargs)
        if variant == "fallback":
            return FallbackStorage([storage])
        empty = InMemoryStorage(base_url=getattr(storage, "base_url", None))
        return FallbackStorage([storage, ReadOnlyStorage(empty)])

    return build


def wrapped_class(name: str, variant: str) -> type[unittest.TestCase]:
    original: type[unittest.TestCase] = getattr(django_tests, name)
    if variant == "bare":
        return original
    storage_class = original.storage_class  # type: ignore[attr-defined]
    # staticmethod: the tests call self.storage_class(...), which must not bind self.
    attributes = {"storage_class": staticmethod(wrapping(storage_class, variant))}
    return type(name, (original,), {**attributes, "__module__": original.__module__})


CLASSES_BY_VARIANT = {
    variant: {name: wrapped_class(name, variant) for name in CLASSES} for variant in VARIANTS
}
CASES = [
    f"{name}.{method}"
    for name in CLASSES
    for method in unittest.TestLoader().getTestCaseNames(getattr(django_tests, name))
]


def run(variant: str, case: str) -> Outcome:
    """Run one of Django's tests in ``variant`` (once; later calls reuse the outcome)."""
    known = RESULTS[variant].get(case)
    if known is not None:
        return known
    name, method = case.split(".")
    result = unittest.TestResult()
    # A suite runs setUpClass/tearDownClass around the test, as Django's runner does.
    unittest.TestSuite([CLASSES_BY_VARIANT[variant][name](method)]).run(result)
    outcome = _outcome(result)
    RESULTS[variant][case] = outcome
    return outcome


def _outcome(result: unittest.TestResult) -> Outcome:
    if result.errors:
        return Outcome("error", "\n".join(text for _, text in result.errors))
    if result.failures:
        return Outcome("failed", "\n".join(text for _, text in result.failures))
    if result.skipped:
        return Outcome("skipped", result.skipped[0][1])
    if result.unexpectedSuccesses:
        return Outcome("unexpected success")
    if result.expectedFailures:
        return Outcome("expected failure")
    if result.testsRun != 1:
        return Outcome("error", f"unittest ran {result.testsRun} tests instead of 1")
    return Outcome("passed")


def test_django_collected_the_three_classes() -> None:
    counts = {name: sum(case.startswith(f"{name}.") for case in CASES) for name in CLASSES}
    # FileStorageTests has about 25 tests; the subclasses add their own.
    assert all(count >= 20 for count in counts.values()), counts


@pytest.mark.parametrize("case", CASES)
def test_bare(case: str) -> None:
    """Django's test passes on the bare storage: the harness runs it as Django does."""
    outcome = run("bare", case)
    assert outcome.kind in {"passed", "skipped"}, outcome.detail


# Known differences caused by the core, by (variant, test method): each a strict xfail, so
# a fix shows up as an XPASS that fails until its entry is removed. None is known today.
KNOWN_CORE_FAILURES: dict[tuple[str, str], str] = {}


def wrapped_params() -> list[Any]:
    params = []
    for variant in WRAPPED:
        for case in CASES:
            reason = KNOWN_CORE_FAILURES.get((variant, case.split(".")[1]))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(variant, case, marks=marks, id=f"{variant}-{case}"))
    return params


@pytest.mark.parametrize(("variant", "case"), wrapped_params())
def test_wrapped(variant: str, case: str) -> None:
    """The wrapped storage has exactly the bare storage's outcome in Django's test."""
    bare = run("bare", case)
    wrapped = run(variant, case)
    if not wrapped.matches(bare):
        pytest.fail(
            f"{case} is {bare.kind} on the bare storage but {wrapped.kind} in {variant!r}"
            f"{f' ({bare.detail})' if bare.kind == 'skipped' else ''}:\n{wrapped.detail}",
            pytrace=False,
        )


def summary() -> list[str]:
    """One line per variant that ran: how many of Django's tests passed, failed, were skipped."""
    lines = []
    for variant in VARIANTS:
        outcomes = list(RESULTS[variant].values())
        if not outcomes:
            continue
        kinds = sorted({outcome.kind for outcome in outcomes})
        counts = ", ".join(f"{sum(o.kind == kind for o in outcomes)} {kind}" for kind in kinds)
        lines.append(f"{variant}: {counts} (of {len(outcomes)} Django tests)")
    return lines


__all__ = ["CASES", "RESULTS", "Outcome", "run", "summary"]
