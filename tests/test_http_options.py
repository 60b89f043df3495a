"""HTTPStorage's options: defaults, validation at construction, deconstruction, the extra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from fallback_storage.http import HTTPStorage


def test_defaults() -> None:
    storage = HTTPStorage(base_url="https://media.example.com")
    assert storage.base_url == "https://media.example.com/"
    assert (storage.prefix, storage.timeout, storage.retries, storage.backoff_factor) == (
        "",
        5.0,
        2,
        0.25,
    )
    assert (storage.verify, storage.forbidden_as_missing, storage.read_only) == (
        True,
        False,
        True,
    )
    assert repr(storage) == "HTTPStorage('https://media.example.com/')"


def test_options_arrive_as_django_passes_storages_options() -> None:
    from django.core.files.storage import storages

    storage = storages.create_storage(
        {
            "BACKEND": "fallback_storage.http.HTTPStorage",
            "OPTIONS": {"base_url": "http://127.0.0.1:9/", "prefix": "media", "timeout": 2},
        }
    )
    assert isinstance(storage, HTTPStorage)
    assert storage.url("a b.txt") == "http://127.0.0.1:9/media/a%20b.txt"
    assert storage.timeout == 2.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {},
            "HTTPStorage has no 'base_url' option; set it to the URL the files are served "
            "under, e.g. 'https://media.example.com/'.",
        ),
        (
            {"base_url": 42},
            "HTTPStorage 'base_url' must be a string, got 42; write it as "
            "'https://media.example.com/'.",
        ),
        (
            {"base_url": "ftp://files.example.com/"},
            "HTTPStorage 'base_url' must be an http:// "
            "or https:// URL with a host, got 'ftp://files.example.com/'; write it as "
            "'https://media.example.com/'.",
        ),
        (
            {"base_url": "media.example.com/media/"},
            "HTTPStorage 'base_url' must be an http:// "
            "or https:// URL with a host, got 'media.example.com/media/'; write it as "
            "'https://media.example.com/'.",
        ),
        (
            {"base_url": "https://deploy:hunter2@media.example.com/"},
            "HTTPStorage 'base_url' "
            "must not hold credentials (it would end up in every URL the site shows), got a URL "
            "with a user name; remove them from it and set 'basic_auth' instead.",
        ),
        (
            {"base_url": "https://media.example.com/?v=1"},
            "HTTPStorage 'base_url' must not have "
            "a query or fragment, got 'https://media.example.com/?v=1'; remove the part from '?' "
            "or '#' on.",
        ),
        (
            {"base_url": "https://m.example/", "cdn": True},
            "HTTPStorage got unknown options "
            "['cdn']; remove them or use one of ['base_url', 'prefix', 'timeout', 'retries', "
            "'backoff_factor', 'headers', 'basic_auth', 'bearer_token', 'verify', "
            "'forbidden_as_missing'].",
        ),
        (
            {"base_url": "https://m.example/", "timeout": 0},
            "HTTPStorage 'timeout' must be a number of seconds above 0, got 0; set it to e.g. 5.",
        ),
        (
            {"base_url": "https://m.example/", "timeout": "5"},
            "HTTPStorage 'timeout' must be a number of seconds above 0, got '5'; set it to e.g. 5.",
        ),
        (
            {"base_url": "https://m.example/", "backoff_factor": -1},
            "HTTPStorage "
            "'backoff_factor' must be a number of seconds of 0 or more, got -1; set it to e.g. "
            "0.25.",
        ),
        (
            {"base_url": "https://m.example/", "retries": -1},
            "HTTPStorage 'retries' must be a whole number of 0 or more, got -1; set it to one.",
        ),
        (
            {"base_url": "https://m.example/", "retries": True},
            "HTTPStorage 'retries' must be a whole number of 0 or more, got True; set it to one.",
        ),
        (
            {"base_url": "https://m.example/", "prefix": 3},
            "HTTPStorage 'prefix' must be a string, got 3; write it as 'media/'.",
        ),
        (
            {"base_url": "https://m.example/", "forbidden_as_missing": "yes"},
            "HTTPStorage "
            "'forbidden_as_missing' must be True or False, got 'yes'; set it to a bool.",
        ),
        (
            {"base_url": "https://m.example/", "verify": "/no/such/ca.pem"},
            "HTTPStorage "
            "'verify' must be True, False or the path of a CA bundle file or directory that "
            "exists, got '/no/such/ca.pem'; fix the path or use True.",
        ),
        (
            {"base_url": "https://m.example/", "headers": {"Range": "bytes=0-1"}},
            "HTTPStorage "
            "'headers' must not set ['range']: HTTPStorage needs whole files, and with them the "
            "origin may answer with part of one or with none; remove them.",
        ),
        (
            {"base_url": "https://m.example/", "headers": {"If-None-Match": '"x"'}},
            "HTTPStorage "
            "'headers' must not set ['if-none-match']: HTTPStorage needs whole files, and with "
            "them the origin may answer with part of one or with none; remove them.",
        ),
        (
            {"base_url": "https://m.example/", "headers": {"X-Number": 1}},
            "HTTPStorage "
            "'headers' must be a dict of strings, got {'X-Number': 1}; write it as "
            "{'X-Name': 'value'}.",
        ),
        (
            {"base_url": "https://m.example/", "bearer_token": "t", "basic_auth": ("u", "p")},
            "HTTPStorage got both 'basic_auth' and 'bearer_token'; set only the one the origin "
            "expects.",
        ),
        (
            {
                "base_url": "https://m.example/",
                "bearer_token": "t",
                "headers": {"authorization": "x"},
            },
            "HTTPStorage 'headers' sets Authorization beside "
            "'basic_auth' or 'bearer_token'; keep only one of them.",
        ),
        (
            {"base_url": "https://m.example/", "bearer_token": ""},
            "HTTPStorage 'bearer_token' "
            "must be a non-empty string, got a str; set it to the token.",
        ),
        (
            {"base_url": "https://m.example/", "basic_auth": "user:secret"},
            "HTTPStorage "
            "'basic_auth' must be a (user, password) pair of strings, got a str; set it to e.g. "
            "('deploy', os.environ['PASSWORD']).",
        ),
        (
            {"base_url": "https://m.example/", "prefix": "../up"},
            "HTTPStorage 'prefix' must be a relative path without '..' segments or NUL "
            "bytes, got '../up'; write it as 'media/'.",
        ),
    ],
)
def test_bad_options_are_refused_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        HTTPStorage(**options)
    assert str(raised.value) == message
    assert "hunter2" not in str(raised.value) and "secret" not in str(raised.value)


def test_verify_takes_a_ca_bundle_path(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert HTTPStorage(base_url="https://m.example/", verify=str(bundle)).verify == str(bundle)
    assert HTTPStorage(base_url="https://m.example/", verify=False).verify is False


def test_headers_are_sent_with_the_defaults_unless_replaced() -> None:
    storage = HTTPStorage(
        base_url="https://m.example/", headers={"user-agent": "dev-site", "X-Env": "dev"}
    )
    sent = storage.client.pool.headers
    assert sent == {"Accept-Encoding": "identity", "user-agent": "dev-site", "X-Env": "dev"}
    default = HTTPStorage(base_url="https://m.example/").client.pool.headers
    assert default["User-Agent"].startswith("django-fallback-storage/")


def test_deconstruct_keeps_options_but_not_secrets() -> None:
    storage = HTTPStorage(
        base_url="https://m.example/",
        timeout=3,
        basic_auth=("deploy", "hunter2"),
        headers={"X-Env": "dev"},
    )
    assert storage.deconstruct() == (
        "fallback_storage.http.HTTPStorage",
        (),
        {"base_url": "https://m.example/", "timeout": 3, "headers": {"X-Env": "dev"}},
    )
