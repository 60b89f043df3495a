"""The demo site in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Skipped, with the reason, where Playwright for Python or a Chromium is missing;
with ``FALLBACK_STORAGE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) or ``CI=true``
that is a failure instead. Playwright never downloads a browser here: it drives the system's
Chromium (``FALLBACK_STORAGE_CHROMIUM``, else ``chromium`` on PATH).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from demo_process import Demo, running_demo
from services import in_ci

REQUIRE_VARIABLE = "FALLBACK_STORAGE_REQUIRE_BROWSER"
CHROMIUM_VARIABLE = "FALLBACK_STORAGE_CHROMIUM"
# Flags that keep Chromium quiet on a machine with no network but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READ_METHODS = {"GET", "HEAD"}


def unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_VARIABLE}=1 requires the browser test to run.")
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    configured = os.environ.get(CHROMIUM_VARIABLE)
    path = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        where = (
            f"{CHROMIUM_VARIABLE}={configured!r} is not an executable"
            if configured
            else "no chromium on PATH"
        )
        unavailable(
            f"no Chromium to drive ({where}); install Debian's with `apt-get install chromium`"
        )
    assert path is not None
    return path


@pytest.fixture(scope="module")
def sync_api() -> Any:
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError:
        unavailable("Playwright for Python is not installed; run `python3 dev.py tox -e browser`")


@pytest.fixture
def page(sync_api: Any, chromium: str) -> Any:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def small_png(colour: tuple[int, int, int], width: int = 48, height: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = (b"\x00" + bytes(colour) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def bucket_listing(endpoint_url: str, bucket: str) -> dict[str, tuple[str, str]]:
    """Key -> (ETag, LastModified) of every object, listed by the test's own client."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(user_agent_extra="fallback-storage-browser-test"),
    )
    listing = client.list_objects_v2(Bucket=bucket)
    assert not listing["IsTruncated"]
    return {
        item["Key"]: (item["ETag"], item["LastModified"].isoformat())
        for item in listing.get("Contents", [])
    }


def images(page: Any) -> list[dict[str, Any]]:
    """Every <img> of the page once all have finished loading (or failing)."""
    page.wait_for_function("Array.from(document.images).every(image => image.complete)")
    result: list[dict[str, Any]] = page.evaluate(
        """Array.from(document.querySelectorAll("article.photo")).map(article => {
            const image = article.querySelector("img");
            return {id: article.dataset.photoId, name: article.dataset.name,
                    servedBy: article.dataset.servedBy, src: image.currentSrc,
                    naturalWidth: image.naturalWidth};
        })"""
    )
    return result


def submit(page: Any, button: Any) -> None:
    """Click a form's button and wait for the page it leads to (after the redirect) to load."""
    with page.expect_navigation(wait_until="load"):
        button.click()


def article(page: Any, title: str) -> Any:
    return page.locator("article.photo", has=page.get_by_role("heading", name=title))


def test_demo_in_a_browser(page: Any, tmp_path: Path) -> None:
    with running_demo(tmp_path / "state") as demo:
        run_scenario(page, demo, tmp_path)


def run_scenario(page: Any, demo: Demo, tmp_path: Path) -> None:
    production = demo.status()["production"]
    endpoint, bucket = production["endpoint_url"], production["bucket"]
    seeded = {
        key: (value["etag"], value["last_modified"]) for key, value in production["seeded"].items()
    }
    before = bucket_listing(endpoint, bucket)
    assert before == seeded and len(before) == 6
    media_root = Path(demo.status()["media_root"])

    # The gallery: every image really loads, the production ones from the S3 server.
    page.goto(demo.url)
    shown = images(page)
    assert len(shown) == len(seeded)
    assert {image["name"] for image in shown} == set(seeded)
    for image in shown:
        assert image["servedBy"] == "production"
        assert image["src"].startswith(f"{endpoint}/{bucket}/{image['name']}?")
        assert image["naturalWidth"] > 0, image

    # An upload lands in the local layer and is served from MEDIA_URL.
    page.get_by_label("Title").fill("Browser upload")
    page.get_by_label("Image").set_input_files(
        files=[
            {
                "name": "browser-upload.png",
                "mimeType": "image/png",
                "buffer": small_png((9, 200, 90)),
            }
        ]
    )
    submit(page, page.get_by_role("button", name="Upload"))
    assert (
        "saved as photos/browser-upload.png in the local layer"
        in page.locator("#messages").inner_text()
    )
    shown = images(page)
    assert all(image["naturalWidth"] > 0 for image in shown), shown
    uploaded = shown[-1]
    assert uploaded["servedBy"] == "local"
    assert uploaded["src"] == f"{demo.url}media/photos/browser-upload.png"
    assert (media_root / "photos" / "browser-upload.png").read_bytes() == small_png((9, 200, 90))

    # Deleting the local photo removes its file and its row.
    submit(page, article(page, "Browser upload").get_by_role("button", name="Delete"))
    assert "Deleted “Browser upload” and its local file" in page.locator("#messages").inner_text()
    assert article(page, "Browser upload").count() == 0
    assert not (media_root / "photos" / "browser-upload.png").exists()

    # Deleting a production-only photo is refused, visibly, and the photo stays.
    submit(page, article(page, "Lagoon").get_by_role("button", name="Delete"))
    refusal = page.locator("#messages .error")
    assert refusal.is_visible()
    text = refusal.inner_text()
    assert text.startswith(
        "Refused: “Lagoon” (photos/lagoon.png) exists only in the production bucket"
    )
    assert "ReadOnlyStorage refused to delete 'photos/lagoon.png' in S3Storage" in text
    shown = images(page)
    assert len(shown) == len(seeded)
    assert all(image["naturalWidth"] > 0 for image in shown), shown
    screenshots = Path(os.environ.get("FALLBACK_STORAGE_SCREENSHOTS") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "demo-gallery.png"), full_page=True)

    # The production bucket is unchanged, judged by what reached its server.
    after = bucket_listing(endpoint, bucket)
    assert after == before
    production = demo.status()["production"]
    assert production["unchanged"] is True
    requests = production["requests"]
    assert production["writes"] == []
    assert {request["method"] for request in requests} <= READ_METHODS
    browser_paths = {request["path"] for request in requests if request["client"] == "browser"}
    assert browser_paths >= {f"/{bucket}/{key}" for key in seeded}
    page.reload()
    assert page.locator("#bucket-state").inner_text().startswith("Unchanged since it was seeded")
    assert page.locator("#write-state").inner_text() == "Writes: none (only GET and HEAD)."
    # The images the browser shows are the production bytes.
    for key, (etag, _) in seeded.items():
        body = demo_image(page, key)
        assert f'"{hashlib.md5(body).hexdigest()}"' == etag
    counts = production["requests_by_method"]
    print(
        f"\nbrowser test: {len(seeded)} production images + 1 upload loaded; "
        f"{len(requests)} requests reached production ({counts}); bucket unchanged."
    )


def demo_image(page: Any, key: str) -> bytes:
    """The bytes of the image ``key`` as the browser fetches it from its <img> URL."""
    src = page.locator(f'article.photo[data-name="{key}"] img').get_attribute("src")
    response = page.request.get(src)
    assert response.ok
    body: bytes = response.body()
    return body


# -- the django-debug-toolbar panel ------------------------------------------------------------

PANEL = "FallbackStoragePanel"
PRODUCTION_LAYER = "'default' backend 1 (ReadOnlyStorage(S3Storage))"
LOCAL_LAYER = "'default' backend 0 (FileSystemStorage)"


def site_requests(demo: Demo) -> int:
    """How many requests the site's own boto3 client has sent to production so far."""
    return int(demo.status()["production"]["requests_by_client"].get("site (boto3)", 0))


def open_panel(page: Any) -> Any:
    """Open the toolbar and the FallbackStoragePanel; its content once the toolbar fetched it."""
    handle = page.locator("#djShowToolBarButton")
    if handle.is_visible():
        handle.click()
    page.locator(f"#djdt-{PANEL} a.{PANEL}").click()
    content = page.locator(f"#{PANEL} .djdt-scroll")
    content.locator(".djdt-fallback-storage-summary").wait_for()
    return content


def panel_figure(content: Any, row: str, figure: str) -> str:
    text: str = content.locator(f'{row} td[data-figure="{figure}"]').first.inner_text()
    return text.strip()


def test_the_toolbar_panel_in_a_browser(page: Any, tmp_path: Path) -> None:
    with running_demo(tmp_path / "state") as demo:
        before = site_requests(demo)
        per_status = site_requests(demo) - before  # status.json asks production too
        before += per_status
        page.goto(demo.url)
        if page.locator("#djDebug").count() == 0:
            unavailable("the demo shows no django-debug-toolbar; install the toolbar extra")
        sent = site_requests(demo) - before - per_status
        seeded = len(demo.status()["production"]["seeded"])

        content = open_panel(page)
        summary = ".djdt-fallback-storage-summary tbody tr"
        production = f'.djdt-fallback-storage-layers tr[data-layer="{PRODUCTION_LAYER}"]'
        local = f'.djdt-fallback-storage-layers tr[data-layer="{LOCAL_LAYER}"]'
        # Each photo: its layers asked directly (exists) and its url() through the storage.
        assert panel_figure(content, summary, "calls") == str(3 * seeded)
        print(content.inner_text()[:5000])
        print(demo.status()["production"]["requests"][-20:])
        assert panel_figure(content, summary, "requests") == str(sent)
        assert panel_figure(content, summary, "refused") == "0"
        # One HEAD per production photo, which production received; no photo is local.
        assert sent == seeded
        assert panel_figure(content, production, "requests") == str(sent)
        assert panel_figure(content, production, "answered") == str(2 * seeded)  # exists, url
        assert panel_figure(content, local, "requests") == "0"
        assert panel_figure(content, local, "answered") == "0"
        subtitle = page.locator(f"#djdt-{PANEL} small").inner_text()
        assert subtitle.startswith(f"{3 * seeded} calls in ")
        times = [
            float(cell.inner_text().removesuffix(" ms"))
            for cell in content.locator(
                'tr.djdt-fallback-storage-call td[data-figure="time"]'
            ).all()
        ]
        assert len(times) == 3 * seeded and times == sorted(times, reverse=True)
        content_text = content.inner_text()
        assert "djdt-fallback-storage-refused" not in content.inner_html()

        # Deleting a production-only photo is refused: the POST's panel shows the banner.
        page.locator(f"#{PANEL} .djDebugClose").click()
        page.locator("#djHideToolBarButton").click()
        submit(page, article(page, "Lagoon").get_by_role("button", name="Delete"))
        handle = page.locator("#djShowToolBarButton")
        if handle.is_visible():
            handle.click()
        page.locator("#djdt-HistoryPanel a.HistoryPanel").click()
        post = page.locator("#HistoryPanel tr", has=page.get_by_text("POST", exact=True))
        post.locator("button.switchHistory").click()
        page.locator("#HistoryPanel .djDebugClose").click()
        page.locator(f"#djdt-{PANEL} a.{PANEL}").click()
        banner = page.locator(f"#{PANEL} .djdt-fallback-storage-refused")
        banner.wait_for()
        text = " ".join(banner.inner_text().split())
        assert text.startswith(
            f"Write refused by a read-only layer: delete photos/lagoon.png in {PRODUCTION_LAYER}. "
            f"ReadOnlyStorage refused to delete 'photos/lagoon.png' in S3Storage"
        ), text
        assert text.endswith("Not written anywhere."), text
        refused = page.locator(f"#{PANEL} .djdt-fallback-storage-summary td[data-figure=refused]")
        assert refused.inner_text() == "1"
        assert content_text  # the first page's panel had content
        assert demo.status()["production"]["writes"] == []
