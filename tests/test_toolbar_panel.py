"""FallbackStoragePanel in the real django-debug-toolbar, rendering a real page.

The page (tests/toolbar_site.py) makes fixed storage calls through a
FallbackStorage of a local directory over a read-only S3 bucket on the moto
server; the panel's figures are read from its rendered content, fetched
through the toolbar's own render_panel view, and the S3 requests it shows are
compared with what the server received.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from counting_s3 import CountingS3Server
from django.conf import settings
from django.test import Client, override_settings
from django_42 import OVERRIDE_DROPS_OPTIONS

PANEL = "fallback_storage.toolbar_panel.FallbackStoragePanel"
LOCAL = "'default' backend 0 (FileSystemStorage)"
PRODUCTION = "'default' backend 1 (ReadOnlyStorage(S3Storage))"


def show_toolbar(request: Any) -> bool:
    return True


def toolbar_settings(local: Path, endpoint_url: str, bucket: str) -> dict[str, Any]:
    return {
        "DEBUG": True,
        "INSTALLED_APPS": [*settings.INSTALLED_APPS, "debug_toolbar"],
        "MIDDLEWARE": ["debug_toolbar.middleware.DebugToolbarMiddleware", *settings.MIDDLEWARE],
        "ROOT_URLCONF": "toolbar_site",
        "DEBUG_TOOLBAR_CONFIG": {
            "SHOW_TOOLBAR_CALLBACK": f"{__name__}.show_toolbar",
            "IS_RUNNING_TESTS": False,
        },
        "DEBUG_TOOLBAR_PANELS": ["debug_toolbar.panels.timer.TimerPanel", PANEL],
        "STORAGES": {
            "default": {
                "BACKEND": "fallback_storage.storage.FallbackStorage",
                "OPTIONS": {"backends": ["local", "production"]},
            },
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(local)},
            },
            "production": {
                "BACKEND": "fallback_storage.storage.ReadOnlyStorage",
                "OPTIONS": {
                    "backend": {
                        "BACKEND": "storages.backends.s3.S3Storage",
                        "OPTIONS": {
                            "bucket_name": bucket,
                            "endpoint_url": endpoint_url,
                            "region_name": "us-east-1",
                            "access_key": "testing",
                            "secret_key": "testing",
                            "addressing_style": "path",
                        },
                    }
                },
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    }


@pytest.fixture
def toolbar_site(
    tmp_path: Path, s3_server: CountingS3Server, production_bucket: str
) -> Iterator[Path]:
    local = tmp_path / "media"
    local.mkdir()
    (local / "local.txt").write_bytes(b"local")
    with override_settings(**toolbar_settings(local, s3_server.endpoint_url, production_bucket)):
        yield local


def panel_content(client: Client, page: str) -> str:
    """The panel as the toolbar's frontend fetches it: through render_panel."""
    match = re.search(r'data-request-id="([0-9a-f]+)"', page)
    assert match, "the page has no toolbar"
    response = client.get(
        "/__debug__/render_panel/",
        {"request_id": match.group(1), "panel_id": "FallbackStoragePanel"},
    )
    assert response.status_code == 200
    content: str = json.loads(response.content)["content"]
    return content


def figures(content: str, row: str) -> dict[str, str]:
    """The data-figure cells of the first table row that matches ``row``."""
    match = re.search(row + r"(.*?)</tr>", content, re.S)
    assert match, f"no row {row!r} in the panel"
    cells = re.findall(r'<td data-figure="([a-z-]+)">(.*?)</td>', match.group(1), re.S)
    return {name: html.unescape(value).strip() for name, value in cells}


def layer_row(label: str) -> str:
    return re.escape(f'<tr data-layer="{html.escape(label)}">')


@OVERRIDE_DROPS_OPTIONS
@pytest.mark.django_db
def test_the_panel_shows_each_call_its_layer_and_the_requests_production_received(
    toolbar_site: Path, s3_server: CountingS3Server, production_bucket: str
) -> None:
    client = Client()
    s3_server.clear()
    response = client.get("/storage-page/")
    assert response.status_code == 200
    received = list(s3_server.requests)
    # What the page did at the server: exists() and size() of a production file, and the
    # save() asking production whether the name is free; the refused delete sent nothing.
    assert received == [
        ("HEAD", f"/{production_bucket}/prod-only.txt"),
        ("HEAD", f"/{production_bucket}/prod-only.txt"),
        ("HEAD", f"/{production_bucket}/uploads/new.txt"),
    ]
    page = response.content.decode()
    # The side bar: the number of calls and their time, and the refused write.
    assert re.search(r"5 calls in \d+\.\d ms, 1 write refused", page), page

    content = panel_content(client, page)
    summary = figures(content, r'<table class="djdt-fallback-storage-summary">.*?<tbody>\s*<tr>')
    assert re.fullmatch(r"\d+\.\d\d ms", summary.pop("time"))
    assert summary == {"calls": "5", "requests": str(len(received)), "refused": "1"}
    local = figures(content, layer_row(LOCAL))
    production = figures(content, layer_row(PRODUCTION))
    assert (local["answered"], local["requests"]) == ("2", "0")  # exists(local.txt), save()
    assert (production["answered"], production["requests"]) == ("2", str(len(received)))
    assert "HeadObject&nbsp;×&nbsp;3</td>" in content

    calls = re.findall(
        r'<tr class="djdt-fallback-storage-call" data-operation="([a-z_]+)" '
        r'data-name="([^"]*)">\s*<td data-figure="time">([0-9.]+) ms</td>',
        content,
    )
    assert sorted((operation, name) for operation, name, _ in calls) == [
        ("delete", "prod-only.txt"),
        ("exists", "local.txt"),
        ("exists", "prod-only.txt"),
        ("save", "uploads/new.txt"),
        ("size", "prod-only.txt"),
    ]
    times = [float(time) for _, _, time in calls]
    assert times == sorted(times, reverse=True)  # slowest first
    answered = {
        (operation, name): figures(content, call_row(operation, name))["answered-by"]
        for operation, name, _ in calls
    }
    assert answered[("exists", "prod-only.txt")] == PRODUCTION
    assert answered[("size", "prod-only.txt")] == PRODUCTION
    assert answered[("exists", "local.txt")] == LOCAL
    assert answered[("save", "uploads/new.txt")] == LOCAL
    assert answered[("delete", "prod-only.txt")].startswith("ReadOnlyStorageError: ")

    banner = re.search(r'<p class="djdt-fallback-storage-refused".*?</p>', content, re.S)
    assert banner, content
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", banner.group(0))).split())
    assert text == (
        f"Write refused by a read-only layer: delete prod-only.txt in {PRODUCTION}. "
        f"ReadOnlyStorage refused to delete 'prod-only.txt' in "
        f"S3Storage(bucket_name={production_bucket!r}); list a writable backend beside it "
        f"in FallbackStorage, or write to another storage. Not written anywhere."
    )


@pytest.mark.django_db
def test_a_page_without_storage_calls_shows_none(toolbar_site: Path) -> None:
    client = Client()
    response = client.get("/no-storage/")
    page = response.content.decode()
    assert "0 calls in 0.0 ms" in page
    content = panel_content(client, page)
    assert "No storage call went through a FallbackStorage in this request." in content
    assert "djdt-fallback-storage-refused" not in content


def call_row(operation: str, name: str) -> str:
    return re.escape(
        f'<tr class="djdt-fallback-storage-call" data-operation="{operation}" '
        f'data-name="{html.escape(name)}">'
    )
