"""Check and normalise the options of :class:`~fallback_storage.http.HTTPStorage`.

Every bad value raises :class:`~django.core.exceptions.ImproperlyConfigured`
at construction, naming the option, the value and the fix. Secrets
(``basic_auth``, ``bearer_token``) never appear in a message.
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Mapping
from importlib import metadata
from typing import Any
from urllib.parse import quote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from fallback_storage.exceptions import SuspiciousFileName
from fallback_storage.name_checks import check_name

__all__ = ["OPTION_NAMES", "auth_header", "base_url", "headers", "prefix", "quote_name"]

OPTION_NAMES = (
    "base_url",
    "prefix",
    "timeout",
    "retries",
    "backoff_factor",
    "headers",
    "basic_auth",
    "bearer_token",
    "verify",
    "forbidden_as_missing",
)
# Headers that would make the origin answer with part of a file, or with nothing (304).
_WHOLE_FILE_HEADERS = frozenset(
    {"range", "if-range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"}
)
_CLASS = "HTTPStorage"


def quote_name(name: str) -> str:
    """``name`` as a URL path: each segment percent-encoded, backslashes as separators.

    Everything but letters, digits, ``_.-~`` and ``/`` is encoded, so ``#``,
    ``?``, ``%``, ``+``, spaces and non-ASCII characters reach the origin as
    part of the path.
    """
    return quote(name.replace("\\", "/"), safe="/")


def base_url(value: object) -> str:
    """The validated ``base_url``, ending with ``/``."""
    if value is None or value == "":
        raise ImproperlyConfigured(
            f"{_CLASS} has no 'base_url' option; set it to the URL the files are served "
            f"under, e.g. 'https://media.example.com/'."
        )
    if not isinstance(value, str):
        raise ImproperlyConfigured(
            f"{_CLASS} 'base_url' must be a string, got {value!r}; write it as "
            f"'https://media.example.com/'."
        )
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"{_CLASS} 'base_url' must be an http:// or https:// URL with a host, got "
            f"{value!r}; write it as 'https://media.example.com/'."
        )
    if parts.username is not None or parts.password is not None:
        raise ImproperlyConfigured(
            f"{_CLASS} 'base_url' must not hold credentials (it would end up in every URL "
            f"the site shows), got a URL with a user name; remove them from it and set "
            f"'basic_auth' instead."
        )
    if parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"{_CLASS} 'base_url' must not have a query or fragment, got {value!r}; "
            f"remove the part from '?' or '#' on."
        )
    return value if value.endswith("/") else f"{value}/"


def prefix(value: object) -> str:
    """The validated ``prefix`` as a quoted URL path, ``""`` or ending with ``/``."""
    if not isinstance(value, str):
        raise ImproperlyConfigured(
            f"{_CLASS} 'prefix' must be a string, got {value!r}; write it as 'media/'."
        )
    stripped = value.strip("/")
    if not stripped:
        return ""
    try:
        check_name(stripped, "prefix", _CLASS)
    except SuspiciousFileName:
        raise ImproperlyConfigured(
            f"{_CLASS} 'prefix' must be a relative path without '..' segments or NUL bytes, "
            f"got {value!r}; write it as 'media/'."
        ) from None
    return f"{quote_name(stripped)}/"


def count(option: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(
            f"{_CLASS} {option!r} must be a whole number of 0 or more, got {value!r}; "
            f"set it to one."
        )
    return value


def seconds(option: str, value: object, *, allow_zero: bool) -> float:
    """A number of seconds: above 0, or 0 or more with ``allow_zero``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        bound = "of 0 or more" if allow_zero else "above 0"
        raise ImproperlyConfigured(
            f"{_CLASS} {option!r} must be a number of seconds {bound}, got {value!r}; "
            f"set it to e.g. {0.25 if allow_zero else 5}."
        )
    return float(value)


def flag(option: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ImproperlyConfigured(
            f"{_CLASS} {option!r} must be True or False, got {value!r}; set it to a bool."
        )
    return value


def verify(value: object) -> bool | str:
    """``True``, ``False`` or the path of an existing CA bundle file or directory."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str) and os.path.exists(path):
            return path
    raise ImproperlyConfigured(
        f"{_CLASS} 'verify' must be True, False or the path of a CA bundle file or "
        f"directory that exists, got {value!r}; fix the path or use True."
    )


def auth_header(basic_auth: object, bearer_token: object) -> str | None:
    """The Authorization header for the auth options, or None without them."""
    if basic_auth is not None and bearer_token is not None:
        raise ImproperlyConfigured(
            f"{_CLASS} got both 'basic_auth' and 'bearer_token'; set only the one the "
            f"origin expects."
        )
    if bearer_token is not None:
        if not isinstance(bearer_token, str) or not bearer_token:
            raise ImproperlyConfigured(
                f"{_CLASS} 'bearer_token' must be a non-empty string, got a "
                f"{type(bearer_token).__name__}; set it to the token."
            )
        return f"Bearer {bearer_token}"
    if basic_auth is not None:
        if (
            not isinstance(basic_auth, (tuple, list))
            or len(basic_auth) != 2
            or not all(isinstance(part, str) for part in basic_auth)
        ):
            raise ImproperlyConfigured(
                f"{_CLASS} 'basic_auth' must be a (user, password) pair of strings, got a "
                f"{type(basic_auth).__name__}; set it to e.g. ('deploy', os.environ['PASSWORD'])."
            )
        user, password = basic_auth
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return f"Basic {token}"
    return None


def headers(value: object, authorization: str | None) -> dict[str, str]:
    """The headers of every request: the defaults, ``value``'s and the Authorization header."""
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ImproperlyConfigured(
            f"{_CLASS} 'headers' must be a dict of strings, got {value!r}; write it as "
            f"{{'X-Name': 'value'}}."
        )
    given: dict[str, Any] = dict(value)
    lowered = {key.lower() for key in given}
    refused = sorted(lowered & _WHOLE_FILE_HEADERS)
    if refused:
        raise ImproperlyConfigured(
            f"{_CLASS} 'headers' must not set {refused!r}: HTTPStorage needs whole files, "
            f"and with them the origin may answer with part of one or with none; remove them."
        )
    if authorization is not None and "authorization" in lowered:
        raise ImproperlyConfigured(
            f"{_CLASS} 'headers' sets Authorization beside 'basic_auth' or 'bearer_token'; "
            f"keep only one of them."
        )
    result = {"User-Agent": _user_agent(), "Accept-Encoding": "identity"}
    for key in list(result):
        if key.lower() in lowered:
            del result[key]
    result.update(given)
    if authorization is not None:
        result["Authorization"] = authorization
    return result


@functools.lru_cache(maxsize=1)
def _user_agent() -> str:
    try:
        version = metadata.version("django-fallback-storage")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        version = "unknown"
    return f"django-fallback-storage/{version} (HTTPStorage)"
