"""Client-level read-only guard for django-storages' ``AzureStorage`` (Azure Blob Storage).

:func:`protect` registers the storage's container in
:mod:`fallback_storage.protection`; from then on no ``azure-storage-blob``
client in the process, whoever built it and whenever, in any thread, sync or
``aio``, can send a request that is not a read to that container. Two
class-level hooks, installed once, do the checking:

* ``azure.core``'s transport runner, the last policy of every pipeline (sync
  and async), through which every request of every client goes after all
  other policies ran (retries, redirects, secondary-host switching, request
  hooks). Each request is read with :mod:`fallback_storage.azure_requests`
  (the parts of a batch included); one that is not a ``GET``, a ``HEAD`` or a
  Query Blob Contents ``POST`` is refused if it reaches a protected container.
* The SDK's shared access signature factories, which ``generate_blob_sas``,
  ``generate_container_sas`` and ``generate_account_sas`` (and django-storages'
  own import of ``generate_blob_sas``) call: a SAS with a permission other
  than read (``r``) and list (``l``), or one that leaves its permissions to a
  stored access policy, is refused for a protected container. A SAS names an
  account and a container but no endpoint, so it is refused when a container
  of that account and name is protected on any endpoint.

azure-storage-blob and django-storages are an optional extra: nothing here
imports them before an ``AzureStorage`` exists.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from fallback_storage import protection
from fallback_storage.azure_requests import SERVICE, AzureTarget, container_at, targets
from fallback_storage.exceptions import ReadOnlyStorageError

__all__ = ["describe", "handles", "is_protected", "observe", "protect", "unobserve"]

READ_SAS_PERMISSIONS = frozenset("rl")

_lock = threading.Lock()
_installed = False
_protecting = False
_observers: list[Callable[[AzureTarget], None]] = []


def handles(storage: object) -> bool:
    """Whether ``storage`` is a django-storages ``AzureStorage`` (or subclass) instance."""
    # No instance exists before its module was imported; importing it here
    # would fail without the SDK, so only look at what is loaded already.
    module = sys.modules.get("storages.backends.azure_storage")
    return module is not None and isinstance(storage, module.AzureStorage)


def describe(storage: object) -> str:
    """How refusals name an ``AzureStorage``: its class, account and container."""
    account = getattr(storage, "account_name", None)
    container = getattr(storage, "azure_container", None)
    return f"{type(storage).__qualname__}(account_name={account!r}, azure_container={container!r})"


def protect(storage: object, *, backend: str | None = None) -> None:
    """Make the container of an ``AzureStorage`` read-only for every client in the process.

    ``backend`` describes the storage in refusals (default :func:`describe`).
    """
    global _protecting
    if not handles(storage):
        raise TypeError(
            f"azure_guard.protect() needs a django-storages AzureStorage instance, got "
            f"{storage!r}; wrap other storages in ReadOnlyStorage only."
        )
    container = _container_of(storage)
    _install()
    protection.protect(container, backend=backend or describe(storage))
    _protecting = True


def is_protected(storage: object) -> bool:
    """Whether ``storage`` is an ``AzureStorage`` whose container is protected."""
    return handles(storage) and protection.is_protected(_container_of(storage))


def observe(observer: Callable[[AzureTarget], None]) -> None:
    """Call ``observer`` with every container and blob each request reaches, before it is sent.

    For :class:`fallback_storage.cloud_testing.AzureContainerGuard`; an observer may
    raise to stop the request.
    """
    _install()
    with _lock:
        _observers.append(observer)


def unobserve(observer: Callable[[AzureTarget], None]) -> None:
    """Stop calling ``observer``."""
    with _lock:
        _observers.remove(observer)


def _container_of(storage: Any) -> protection.Container:
    # django-storages builds its ContainerClient without sending a request.
    url = storage.client.url
    found = container_at(url)
    if found is None or found[0].name != str(storage.azure_container).lower():
        raise ImproperlyConfigured(
            f"ReadOnlyStorage cannot tell which Azure container {describe(storage)} uses from "
            f"its container URL {url.split('?', 1)[0]!r}; point the storage at the account's "
            f"blob endpoint (https://<account>.blob.core.windows.net) or a path-style emulator "
            f"URL (http://127.0.0.1:10000/<account>)."
        )
    return found[0]


def _account_of(container: protection.Container) -> str:
    endpoint = container.endpoint
    return endpoint.rsplit("/", 1)[1] if "/" in endpoint else endpoint.split(".", 1)[0]


def _refusal(what: str, target: AzureTarget, backend: str) -> ReadOnlyStorageError:
    return ReadOnlyStorageError(
        f"{what} on {target.where!r} was refused; {backend} is wrapped in ReadOnlyStorage, "
        f"which makes container {target.container!r} of Azure account {target.account!r} "
        f"read-only in this process, so send the write to another container.",
        operation=target.operation,
        name=target.blob,
        backend=backend,
    )


def check(method: str, url: str, headers: Any, body: object) -> None:
    """Refuse the request if it writes to a protected container; tell the observers first."""
    if not _protecting and not _observers:
        return
    for target in targets(method, url, headers or {}, body):
        for observer in tuple(_observers):
            observer(target)
        if target.is_read:
            continue
        backend = protection.protected_by(target.protected_container)
        if backend is not None:
            what = f"Azure Blob Storage operation {target.operation!r} ({method.upper()})"
            raise _refusal(what, target, backend)


def _check_http_request(http_request: Any) -> None:
    body = getattr(http_request, "content", None)
    if body is None:
        body = getattr(http_request, "data", None)
    check(str(http_request.method), str(http_request.url), http_request.headers, body)


def _check_sas(
    what: str,
    account: str,
    container: str | None,
    blob: str | None,
    permission: object,
    policy_id: object,
) -> None:
    letters = str(permission or "")
    if not set(letters) - READ_SAS_PERMISSIONS and policy_id is None:
        return
    for protected in protection.protected_containers(SERVICE):
        if _account_of(protected) != account.lower():
            continue
        if container is not None and protected.name != container.lower():
            continue
        backend = protection.protected_by(protected)
        if backend is None:
            continue
        granted = (
            f"permission {letters!r}"
            if policy_id is None
            else f"stored access policy {policy_id!r}, whose permissions are unknown here"
        )
        target = AzureTarget(
            protected.endpoint, account.lower(), protected.name, blob, what, is_read=False
        )
        raise _refusal(f"Signing {what} with {granted}", target, backend)


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from azure.core.pipeline import _base, _base_async
        from azure.storage.blob import _shared_access_signature as blob_sas
        from azure.storage.blob._shared import shared_access_signature as shared_sas

        runner = _base._TransportRunner
        original_send = runner.send

        @functools.wraps(original_send)
        def send(self: Any, request: Any) -> Any:
            _check_http_request(request.http_request)
            return original_send(self, request)

        async_runner = _base_async._AsyncTransportRunner
        original_async_send = async_runner.send

        @functools.wraps(original_async_send)
        async def async_send(self: Any, request: Any) -> Any:
            _check_http_request(request.http_request)
            return await original_async_send(self, request)

        runner.send = send  # type: ignore[method-assign]
        async_runner.send = async_send  # type: ignore[method-assign]
        factory = blob_sas.BlobSharedAccessSignature
        _guard_signing(factory, "generate_blob", "a blob SAS", ("container_name", "blob_name"))
        _guard_signing(factory, "generate_container", "a container SAS", ("container_name",))
        _guard_signing(shared_sas.SharedAccessSignature, "generate_account", "an account SAS", ())
        _installed = True


def _guard_signing(factory: type[Any], method_name: str, what: str, names: tuple[str, ...]) -> None:
    original = vars(factory)[method_name]
    signature = inspect.signature(original)

    @functools.wraps(original)
    def generate(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        container, blob = (*(arguments.get(name) for name in names), None, None)[:2]
        _check_sas(
            what,
            str(self.account_name),
            str(container) if container is not None else None,
            str(blob) if blob is not None else None,
            arguments.get("permission"),
            arguments.get("policy_id"),
        )
        return original(self, *args, **kwargs)

    setattr(factory, method_name, generate)
