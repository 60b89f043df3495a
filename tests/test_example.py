"""The example site (example/), over plain HTTP: it runs in every test environment.

The browser test (test_browser.py) drives the same site in Chromium; this one
needs no browser, so the demo is checked on every supported Django.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import re
import urllib.parse
import urllib.request
from pathlib import Path

from demo_process import running_demo

READ_METHODS = {"GET", "HEAD"}


def test_demo_serves_production_images_and_refuses_to_delete_them(tmp_path: Path) -> None:
    with running_demo(tmp_path / "state") as demo:
        status = demo.status()
        production = status["production"]
        seeded = production["seeded"]
        assert len(seeded) == 6
        assert [photo["served_by"] for photo in status["photos"]] == ["production"] * 6

        # Every production image is served by the embedded S3 server itself, and its
        # bytes are the ones in the bucket (the ETag of a simple upload is its MD5).
        for photo in status["photos"]:
            assert photo["url"].startswith(f"{production['endpoint_url']}/demo-production/")
            with urllib.request.urlopen(photo["url"], timeout=30) as response:
                body = response.read()
            assert body.startswith(b"\x89PNG\r\n\x1a\n")
            assert f'"{hashlib.md5(body).hexdigest()}"' == seeded[photo["name"]]["etag"]

        # Deleting a production-only photo is refused with a message; the row stays.
        cookies = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
        with browser.open(demo.url, timeout=30) as response:
            page = response.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        lagoon = next(photo for photo in status["photos"] if photo["title"] == "Lagoon")
        request = urllib.request.Request(
            f"{demo.url}photos/{lagoon['id']}/delete/",
            data=urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1)}).encode(),
            headers={"Referer": demo.url},
        )
        with browser.open(request, timeout=30) as response:
            page = response.read().decode()
        assert "Refused: “Lagoon” (photos/lagoon.png) exists only in the production bucket" in page
        assert (
            "ReadOnlyStorage refused to delete &#x27;photos/lagoon.png&#x27; in S3Storage" in page
        )
        assert len(demo.status()["photos"]) == 6

        after = demo.status()["production"]
        assert after["unchanged"] is True
        assert after["now"] == seeded
        assert after["writes"] == []
        assert {entry["method"] for entry in after["requests"]} <= READ_METHODS


def test_demo_over_http_reads_production_with_no_credentials(tmp_path: Path) -> None:
    with running_demo(tmp_path / "state", "--http") as demo:
        assert any("reads production over HTTP" in line for line in demo.output)
        page = demo.get("").decode()
        status = demo.status()
        production = status["production"]
        seeded = production["seeded"]
        public_url = f"{production['endpoint_url']}/demo-production/"
        assert (
            f"FallbackStorage([local media directory, HTTPStorage(&#x27;{public_url}&#x27;)])"
            in (page)
        )
        assert [photo["served_by"] for photo in status["photos"]] == ["production"] * 6

        # The page links the bucket's public URL itself: no signature, no query at all.
        for photo in status["photos"]:
            assert photo["url"] == public_url + urllib.parse.quote(photo["name"])
            with urllib.request.urlopen(photo["url"], timeout=30) as response:
                body = response.read()
            assert f'"{hashlib.md5(body).hexdigest()}"' == seeded[photo["name"]]["etag"]

        cookies = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
        with browser.open(demo.url, timeout=30) as response:
            token = re.search(
                r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode()
            )
        assert token is not None
        lagoon = next(photo for photo in status["photos"] if photo["title"] == "Lagoon")
        request = urllib.request.Request(
            f"{demo.url}photos/{lagoon['id']}/delete/",
            data=urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1)}).encode(),
            headers={"Referer": demo.url},
        )
        with browser.open(request, timeout=30) as response:
            page = response.read().decode()
        assert "HTTPStorage said: HTTPStorage(&#x27;" in page
        assert "refused to delete &#x27;photos/lagoon.png&#x27;: an HTTP origin is read-only" in (
            page
        )

        after = demo.status()["production"]
        assert after["unchanged"] is True
        assert after["writes"] == []
        site = [entry for entry in after["requests"] if entry["client"] == "site (HTTP)"]
        assert site, "the site read production over HTTP"
        assert {entry["method"] for entry in site} <= READ_METHODS
        assert not any(entry["credentials"] for entry in site)
        assert "site (boto3)" not in after["requests_by_client"]
