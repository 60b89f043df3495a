"""``fallback_storage pull --model ... --filter ...``: the files that rows reference.

``testapp.Report`` has two file fields (``pdf``, ``attachment``) and a
``created`` date, on ``FallbackStorage(["local", "prod"])``; ``prod`` here is a
local directory standing in for production, read-only.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from test_pull import FILE_SYSTEM, files_in, on_disk, pull, read_only, seed
from testapp.models import Document, Report

PRODUCTION_FILES = {
    "reports/2025.pdf": b"old report",
    "reports/2026.pdf": b"new report",
    "attachments/2026.csv": b"a,b",
    "documents/d.txt": b"document",
}


@pytest.fixture
def rows(local_dir: Path, prod_dir: Path, db: None) -> Iterator[None]:
    seed(prod_dir, PRODUCTION_FILES)
    with override_settings(
        STORAGES={
            "default": {"BACKEND": FILE_SYSTEM},
            "local": on_disk(local_dir),
            "prod": read_only(on_disk(prod_dir)),
        }
    ):
        Report.objects.create(
            title="old", created=datetime.date(2025, 6, 1), pdf="reports/2025.pdf"
        )
        Report.objects.create(
            title="new",
            created=datetime.date(2026, 2, 1),
            pdf="reports/2026.pdf",
            attachment="attachments/2026.csv",
        )
        Report.objects.create(
            title="same file", created=datetime.date(2026, 3, 1), pdf="reports/2026.pdf"
        )
        Document.objects.create(file="documents/d.txt")
        yield


def test_every_file_field_of_a_model(rows: None, local_dir: Path) -> None:
    code, out, _ = pull("--model", "testapp.Report", "--json")

    assert code == 0
    summary = json.loads(out)
    assert [(entry["name"], entry["storage"], entry["status"]) for entry in summary["files"]] == [
        ("reports/2025.pdf", "The storage of testapp.Report.pdf", "copied"),
        ("reports/2026.pdf", "The storage of testapp.Report.pdf", "copied"),
        ("attachments/2026.csv", "The storage of testapp.Report.attachment", "copied"),
    ]
    assert files_in(local_dir) == {
        name: PRODUCTION_FILES[name]
        for name in ("attachments/2026.csv", "reports/2025.pdf", "reports/2026.pdf")
    }


def test_one_field_of_rows_matching_a_filter_and_another_model(rows: None, local_dir: Path) -> None:
    code, _, _ = pull(
        "--model", "testapp.Report.pdf", "--model", "testapp.document", "--filter", "id__gte=1"
    )
    assert code == 0
    assert set(files_in(local_dir)) == {"documents/d.txt", "reports/2025.pdf", "reports/2026.pdf"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["created__gte=2026-01-01"], {"reports/2026.pdf", "attachments/2026.csv"}),
        (["created__lt=2026-01-01"], {"reports/2025.pdf"}),
        (["title__in=old,same file"], {"reports/2025.pdf", "reports/2026.pdf"}),
        (["attachment__isnull=false", "title=new"], {"reports/2026.pdf", "attachments/2026.csv"}),
    ],
)
def test_filters_narrow_the_rows(
    rows: None, local_dir: Path, filters: list[str], expected: set[str]
) -> None:
    arguments = [argument for text in filters for argument in ("--filter", text)]
    assert pull("--model", "testapp.Report", *arguments)[0] == 0
    assert set(files_in(local_dir)) == expected


def test_rows_whose_file_no_layer_has_exit_1(rows: None, local_dir: Path) -> None:
    Report.objects.create(title="lost", created=datetime.date(2026, 4, 1), pdf="reports/lost.pdf")
    code, out, error = pull("--model", "testapp.Report.pdf")
    assert code == 1
    assert "missing reports/lost.pdf" in out.splitlines()
    assert error.startswith("No lower layer has 'reports/lost.pdf'; check the names with ")
    assert set(files_in(local_dir)) == {"reports/2025.pdf", "reports/2026.pdf"}


def test_a_filter_that_matches_no_row_exits_1(rows: None) -> None:
    code, _, error = pull("--model", "testapp.Report", "--filter", "created__year=1999")
    assert code == 1
    assert error.startswith("No lower layer has '--model testapp.Report'; ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--model", "testapp"],
            "--model 'testapp' is neither app_label.Model nor app_label.Model.field; write e.g. "
            "--model blog.Post or --model blog.Post.cover.",
        ),
        (
            ["--model", "testapp.Nope"],
            "--model 'testapp.Nope' names no installed model (App 'testapp' doesn't have a "
            "'Nope' model.); check the app label and the model name, e.g. --model blog.Post.",
        ),
        (
            ["--model", "testapp.Report.title"],
            "--model 'testapp.Report.title': testapp.Report has no file field 'title'; name one "
            "of its file fields (pdf, attachment).",
        ),
        (
            ["--model", "auth.Group"],
            "--model 'auth.Group': auth.Group has no FileField or ImageField; name a model that "
            "has file fields.",
        ),
        (
            ["--model", "testapp.Report", "--filter", "colour=red"],
            "--filter 'colour=red' does not apply to testapp.Report: Cannot resolve keyword "
            "'colour' into field.",
        ),
        (
            ["--model", "testapp.Report", "--filter", "created__gte=2026-13-01"],
            "--filter 'created__gte=2026-13-01' does not apply to testapp.Report: “2026-13-01” "
            "value has the correct format (YYYY-MM-DD) but it is an invalid date.; use a lookup "
            "of its fields, e.g. --filter created__gte=2026-01-01.",
        ),
        (
            ["--model", "testapp.Report", "--filter", "id__gt=abc"],
            "--filter 'id__gt=abc' does not apply to testapp.Report: Field 'id' expected a "
            "number but got 'abc'.",
        ),
        (
            ["--model", "testapp.Report", "--filter", "created"],
            "--filter 'created' is not a field lookup; write FIELD__LOOKUP=VALUE, e.g. --filter "
            "created__gte=2026-01-01.",
        ),
        (
            ["--model", "testapp.Report", "--filter", "attachment__isnull=maybe"],
            "--filter 'attachment__isnull=maybe' needs true or false after '='; write e.g. "
            "--filter attachment__isnull=true.",
        ),
    ],
)
def test_model_and_filter_mistakes_exit_2(rows: None, args: list[str], message: str) -> None:
    code, _, error = pull(*args)
    assert code == 2
    assert error.startswith(message)


def test_dry_run_of_rows_and_a_file_only_the_local_layer_has(rows: None, local_dir: Path) -> None:
    Report.objects.create(title="lost", created=datetime.date(2026, 4, 1), pdf="reports/lost.pdf")
    seed(local_dir, {"reports/local.pdf": b"uploaded in development"})
    Report.objects.create(title="local", created=datetime.date(2026, 5, 1), pdf="reports/local.pdf")
    code, out, _ = pull("--model", "testapp.Report.pdf", "--dry-run", "--json")
    assert code == 1  # reports/lost.pdf is in no layer
    statuses = {entry["name"]: entry["status"] for entry in json.loads(out)["files"]}
    assert statuses == {
        "reports/2025.pdf": "would_copy",
        "reports/2026.pdf": "would_copy",
        "reports/local.pdf": "kept_local",
        "reports/lost.pdf": "missing",
    }
    assert files_in(local_dir) == {"reports/local.pdf": b"uploaded in development"}
