"""The remote requests a recording counts, seen at the class level of each client library.

While :mod:`fallback_storage.call_recording` records, and only then, one
method of each client library a layer uses is wrapped for the whole process:

* S3 (boto3): ``botocore.client.BaseClient._make_api_call``, which every API
  call of every client goes through (resources, transfers, paginators). The
  operation (``HeadObject``), the key, the HTTP status and botocore's retry
  count (``ResponseMetadata.RetryAttempts``) are recorded; an operation the
  S3 guard refused, or whose parameters botocore rejected, sent nothing.
  s3transfer runs downloads and uploads in its own threads: its
  ``BoundedExecutor.submit`` is wrapped too, so each task runs in a copy of the
  recording context it was submitted from and its requests are counted.
* :class:`~fallback_storage.http.HTTPStorage`: its client's
  :meth:`~fallback_storage.http_client.OriginClient.request`, with urllib3's
  retry history.
* Azure and Google Cloud Storage: ``requests.Session.send``, through which
  both SDKs send every try of every request.

Each wrapper costs one context-variable lookup in a thread that is not
recording. A wrapper is put back when the last recording ends, unless
something wrapped the same method over it meanwhile; then it stays in place,
inert, and is reused by the next recording instead of being stacked.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import time
from collections.abc import Callable
from typing import Any

from fallback_storage.call_log import RemoteRequest
from fallback_storage.exceptions import ReadOnlyStorageError

__all__ = ["Patch", "Reporter", "install"]

#: Reports a request: the request, then the client that sent it (("s3", botocore client),
#: ("http", OriginClient), ("requests", Session)).
Reporter = Callable[[RemoteRequest, tuple[str, Any]], None]
Recording = Callable[[], bool]

# Patches left in place because something wrapped over them: reused, never stacked.
_stuck: dict[tuple[type, str], Patch] = {}


class Patch:
    """One method replaced on a class by a wrapper made from the original."""

    def __init__(self, owner: type, attribute: str, wrap: Callable[[Any], Any]) -> None:
        self.owner = owner
        self.attribute = attribute
        self.had_own = attribute in owner.__dict__
        self.original = owner.__dict__[attribute] if self.had_own else None
        self.wrapper = wrap(getattr(owner, attribute))
        setattr(owner, attribute, self.wrapper)

    @classmethod
    def apply(cls, owner: type, attribute: str, wrap: Callable[[Any], Any]) -> Patch:
        """Wrap ``owner.attribute``, or take back a wrapper of ours still in its chain."""
        return _stuck.pop((owner, attribute), None) or cls(owner, attribute, wrap)

    def remove(self) -> None:
        """Put the original back, if the wrapper is still what the class holds."""
        if self.owner.__dict__.get(self.attribute) is not self.wrapper:
            _stuck[(self.owner, self.attribute)] = self
            return
        if self.had_own:
            setattr(self.owner, self.attribute, self.original)
        else:
            delattr(self.owner, self.attribute)


def install(service: str, recording: Recording, report: Reporter) -> Patch | None:
    """Wrap the client method of ``service`` ("s3", "s3transfer", "http", "requests").

    None when the client library is not installed.
    """
    module, owner, attribute, wrap = _HOOKS[service]
    try:
        cls = getattr(importlib.import_module(module), owner)
    except ImportError:
        return None
    return Patch.apply(cls, attribute, functools.partial(wrap, recording, report))


def _botocore(recording: Recording, report: Reporter, original: Any) -> Any:
    @functools.wraps(original)
    def _make_api_call(client: Any, operation: str, parameters: dict[str, Any]) -> Any:
        if not recording():
            return original(client, operation, parameters)
        bucket = parameters.get("Bucket")
        target = parameters.get("Key") or parameters.get("Prefix") or bucket or ""
        service = client.meta.service_model.service_name
        request = RemoteRequest(service=service, operation=operation, target=str(target))
        started = time.perf_counter()
        try:
            response = original(client, operation, parameters)
        except Exception as error:
            request.error = f"{type(error).__name__}: {error}"
            metadata = getattr(error, "response", None)
            if isinstance(metadata, dict):
                _read_metadata(request, metadata)
            elif isinstance(error, ReadOnlyStorageError) or _rejected_before_sending(error):
                request.attempts = 0
            raise
        else:
            _read_metadata(request, response)
            return response
        finally:
            request.duration = time.perf_counter() - started
            report(request, ("s3", client))

    return _make_api_call


def _read_metadata(request: RemoteRequest, response: dict[str, Any]) -> None:
    metadata = response.get("ResponseMetadata") or {}
    request.status = metadata.get("HTTPStatusCode")
    request.attempts = 1 + int(metadata.get("RetryAttempts") or 0)


def _rejected_before_sending(error: Exception) -> bool:
    module = type(error).__module__
    return module.startswith("botocore") and type(error).__name__ == "ParamValidationError"


def _origin_client(recording: Recording, report: Reporter, original: Any) -> Any:
    @functools.wraps(original)
    def request(client: Any, method: str, url: str) -> Any:
        if not recording():
            return original(client, method, url)
        record = RemoteRequest(service="http", operation=method, target=url)
        started = time.perf_counter()
        try:
            response = original(client, method, url)
        except Exception as error:
            record.error = f"{type(error).__name__}: {error}"
            raise
        else:
            record.status = response.status
            retries = getattr(response, "retries", None)
            record.attempts = 1 + len(getattr(retries, "history", ()) or ())
            return response
        finally:
            record.duration = time.perf_counter() - started
            report(record, ("http", client))

    return request


def _requests_session(recording: Recording, report: Reporter, original: Any) -> Any:
    @functools.wraps(original)
    def send(session: Any, prepared: Any, **kwargs: Any) -> Any:
        if not recording():
            return original(session, prepared, **kwargs)
        url = str(prepared.url).split("?", 1)[0]
        record = RemoteRequest(service="", operation=str(prepared.method), target=url)
        started = time.perf_counter()
        try:
            response = original(session, prepared, **kwargs)
        except Exception as error:
            record.error = f"{type(error).__name__}: {error}"
            raise
        else:
            record.status = response.status_code
            return response
        finally:
            record.duration = time.perf_counter() - started
            report(record, ("requests", session))

    return send


class _InContext:
    """An s3transfer task that runs in the context it was submitted from."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.context = contextvars.copy_context()

    def __getattr__(self, attribute: str) -> Any:  # transfer_id, read by submit()
        return getattr(self.task, attribute)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.context.run(self.task, *args, **kwargs)


def _s3transfer_executor(recording: Recording, report: Reporter, original: Any) -> Any:
    @functools.wraps(original)
    def submit(executor: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        if recording():
            task = _InContext(task)
        return original(executor, task, *args, **kwargs)

    return submit


_HOOKS: dict[str, tuple[str, str, str, Callable[..., Any]]] = {
    "s3": ("botocore.client", "BaseClient", "_make_api_call", _botocore),
    "s3transfer": ("s3transfer.futures", "BoundedExecutor", "submit", _s3transfer_executor),
    "http": ("fallback_storage.http_client", "OriginClient", "request", _origin_client),
    "requests": ("requests", "Session", "send", _requests_session),
}
