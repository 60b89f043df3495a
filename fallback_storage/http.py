"""HTTPStorage: read files from an HTTP(S) origin (a production site's media URL, a CDN).

It needs the ``http`` extra (``pip install django-fallback-storage[http]``),
which brings urllib3. It is read-only by nature: it sends only ``GET`` and
``HEAD``, and refuses every write before any request, so as a
:class:`~fallback_storage.storage.FallbackStorage` layer the writes go to a
local layer. With no credentials configured it holds nothing that could write
anywhere.
"""

from __future__ import annotations

import errno
import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, NoReturn

import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from fallback_storage import http_options
from fallback_storage.exceptions import (
    HTTPOriginError,
    OriginForbiddenError,
    ReadOnlyStorageError,
)
from fallback_storage.failures import add_note
from fallback_storage.http_client import OriginClient
from fallback_storage.http_file import HTTPFile, SpooledBody
from fallback_storage.name_checks import check_name

__all__ = ["HTTPStorage"]

_WRITE_MODE_CHARACTERS = frozenset("wax+")
_READ_MODE_CHARACTERS = frozenset("rbt")
# Left out of deconstruct(), so a model field's storage never writes them into a migration.
_SECRET_OPTIONS = ("basic_auth", "bearer_token")


@deconstructible(path="fallback_storage.http.HTTPStorage")
class HTTPStorage(Storage):
    """Files served by an HTTP(S) origin under ``base_url``; read-only.

    ``base_url`` (required) is the URL the names are relative to;
    ``prefix`` (default ``""``) a path put before every name. ``timeout``
    (default 5 seconds) bounds connecting and each read; ``retries`` (default
    2) and ``backoff_factor`` (default 0.25) say how often and how patiently
    connection failures and 429/502/503/504 answers are retried (timeouts are
    not retried). ``headers`` (default none) are sent with every request;
    ``basic_auth`` (a ``(user, password)`` pair) or ``bearer_token`` adds an
    Authorization header. ``verify`` (default True) checks TLS certificates
    against the system's CAs, or against the CA bundle file or directory it
    names; False turns the check off. With ``forbidden_as_missing`` (default
    False) a 401 or 403 answer counts as a missing file instead of an error.
    """

    read_only = True

    if TYPE_CHECKING:  # added by @deconstructible

        def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]: ...

    def __init__(
        self,
        base_url: str | None = None,
        *,
        prefix: str = "",
        timeout: float = 5.0,
        retries: int = 2,
        backoff_factor: float = 0.25,
        headers: dict[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        verify: bool | str = True,
        forbidden_as_missing: bool = False,
        **options: Any,
    ) -> None:
        if options:
            raise ImproperlyConfigured(
                f"HTTPStorage got unknown options {sorted(options)}; "
                f"remove them or use one of {list(http_options.OPTION_NAMES)}."
            )
        self.base_url = http_options.base_url(base_url)
        self.prefix = http_options.prefix(prefix)
        self.timeout = http_options.seconds("timeout", timeout, allow_zero=False)
        self.retries = http_options.count("retries", retries)
        self.backoff_factor = http_options.seconds(
            "backoff_factor", backoff_factor, allow_zero=True
        )
        self.verify = http_options.verify(verify)
        self.forbidden_as_missing = http_options.flag("forbidden_as_missing", forbidden_as_missing)
        authorization = http_options.auth_header(basic_auth, bearer_token)
        self._authenticated = authorization is not None
        self._headers = http_options.headers({} if headers is None else headers, authorization)
        self._lock = threading.Lock()
        self._client: OriginClient | None = None

    def __repr__(self) -> str:
        return f"HTTPStorage({self.base_url + self.prefix!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def client(self) -> OriginClient:
        """The connection pool, shared by every thread; made at the first request."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = OriginClient(
                        repr(self),
                        timeout=self.timeout,
                        retries=self.retries,
                        backoff_factor=self.backoff_factor,
                        verify=self.verify,
                        headers=self._headers,
                    )
                client = self._client
        return client

    def close(self) -> None:
        """Close the pooled connections (the next request opens new ones)."""
        if self._client is not None:
            self._client.close()

    # -- writes: refused before any request ------------------------------------------

    def _refuse(self, operation: str, name: str | None) -> ReadOnlyStorageError:
        return ReadOnlyStorageError(
            f"{self!r} refused to {operation} {name!r}: an HTTP origin is read-only (it is "
            f"only sent GET and HEAD); list a writable backend beside it in FallbackStorage.",
            operation=operation,
            name=name,
            backend=repr(self),
        )

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        raise self._refuse("save", name if name is not None else getattr(content, "name", None))

    def _save(self, name: str, content: File[Any]) -> str:
        raise self._refuse("save", name)

    def delete(self, name: str) -> None:
        raise self._refuse("delete", name)

    # -- reads -------------------------------------------------------------------------

    def url(self, name: str | None) -> str:
        """The origin's URL of ``name``, for the browser to load; no request is sent."""
        check_name(name, "url", "HTTPStorage")
        if name is None:
            return self.base_url + self.prefix
        return self.base_url + self.prefix + http_options.quote_name(name)

    def exists(self, name: str) -> bool:
        """One HEAD: 200 is yes, 404 and 410 are no; anything else raises."""
        check_name(name, "exists", "HTTPStorage")
        url = self.url(name)
        response = self.client.head(url)
        if response.status == 200:
            return True
        try:
            self._raise_for(response, "HEAD", name, url)
        except FileNotFoundError:
            return False

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if _WRITE_MODE_CHARACTERS.intersection(mode):
            raise self._refuse(f"open (mode {mode!r})", name)
        if not set(mode) <= _READ_MODE_CHARACTERS:
            raise ValueError(f"HTTPStorage cannot open {name!r} in mode {mode!r}; use 'rb'.")
        check_name(name, "open", "HTTPStorage")
        url = self.url(name)
        client = self.client
        response = client.request("GET", url)
        if response.status != 200:
            client.discard(response)
            self._raise_for(response, "GET", name, url)
        body = SpooledBody(response, url, client)
        return HTTPFile(body, name, _length(response), text="b" not in mode)

    def size(self, name: str) -> int:
        """The Content-Length of a HEAD."""
        length = _length(self._head(name, "size"))
        if length is None:
            raise HTTPOriginError(
                f"{self!r} cannot tell the size of {name!r}: the origin sent no plain "
                f"Content-Length for {self.url(name)}; open the file and read it instead.",
                layer=repr(self),
                url=self.url(name),
            )
        return length

    def get_modified_time(self, name: str) -> datetime:
        """The Last-Modified of a HEAD: aware (UTC) with ``USE_TZ``, else naive local time."""
        header = self._head(name, "get_modified_time").headers.get("Last-Modified")
        try:
            modified = parsedate_to_datetime(header or "")
        except (TypeError, ValueError):
            modified = None
        if modified is None or modified.tzinfo is None:
            raise HTTPOriginError(
                f"{self!r} cannot tell when {name!r} was modified: the origin sent "
                f"Last-Modified {header!r} for {self.url(name)}; use a storage that knows.",
                layer=repr(self),
                url=self.url(name),
            )
        if settings.USE_TZ:
            return modified.astimezone(timezone.utc)
        return datetime.fromtimestamp(modified.timestamp())

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        raise NotImplementedError(
            f"{self!r} cannot list {path!r}: plain HTTP has no directory listing, so "
            f"FallbackStorage.listdir() lists its other layers; list the directory there."
        )

    def path(self, name: str) -> str:
        raise NotImplementedError(
            f"{self!r} has no local path for {name!r}: its files are on an HTTP origin; "
            f"open() the file instead, or copy it into a local layer first."
        )

    def _head(self, name: str, operation: str) -> urllib3.BaseHTTPResponse:
        check_name(name, operation, "HTTPStorage")
        url = self.url(name)
        response = self.client.head(url)
        if response.status != 200:
            self._raise_for(response, "HEAD", name, url)
        return response

    def _raise_for(
        self, response: urllib3.BaseHTTPResponse, method: str, name: str, url: str
    ) -> NoReturn:
        """Raise the error for an answer other than 200."""
        status = response.status
        answered = f"{method} {url} answered {status} {response.reason or ''}".rstrip()
        if status in (404, 410):
            raise FileNotFoundError(errno.ENOENT, f"{self!r} has no {name!r} ({answered})", name)
        if status in (401, 403):
            if self.forbidden_as_missing:
                missing = FileNotFoundError(
                    errno.ENOENT,
                    f"{self!r} counts {name!r} as missing ({answered}) because "
                    f"'forbidden_as_missing' is True",
                    name,
                )
                add_note(missing, "Set 'forbidden_as_missing' to False to see these as errors.")
                raise missing
            fix = (
                "check the credentials in 'basic_auth' or 'bearer_token'"
                if self._authenticated
                else "set 'basic_auth' or 'bearer_token' if the origin needs credentials, or "
                "'forbidden_as_missing': True if it answers 403 for missing files"
            )
            raise OriginForbiddenError(
                f"{self!r} was refused {name!r} ({answered}); {fix}.",
                layer=repr(self),
                url=url,
                status=status,
            )
        raise HTTPOriginError(
            f"{self!r} could not read {name!r} ({answered}); it expects 200, or 404 for a "
            f"missing file: check the origin, or the 'base_url' and 'prefix' options.",
            layer=repr(self),
            url=url,
            status=status,
        )


def _without_secrets(self: HTTPStorage) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    path, args, kwargs = _deconstruct(self)
    return path, args, {key: value for key, value in kwargs.items() if key not in _SECRET_OPTIONS}


_deconstruct = HTTPStorage.deconstruct
HTTPStorage.deconstruct = _without_secrets  # type: ignore[method-assign]


def _length(response: urllib3.BaseHTTPResponse) -> int | None:
    """The file's length from the headers, if they give it (not for an encoded body)."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    length = response.headers.get("Content-Length", "")
    if encoding != "identity" or not length.isdigit():
        return None
    return int(length)
