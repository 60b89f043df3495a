"""Which ``url()`` calls would sign a URL that writes, for every backend that signs them.

:class:`~fallback_storage.readonly.ReadOnlyStorage` asks :func:`refused_url`
before delegating ``url()``. The call is bound to the ``url`` signature of
every backend reachable from the wrapped one (inside a ``FallbackStorage``
too, since it passes the arguments on), so positional arguments are read as
the backend reads them. The rules:

* every backend: an ``http_method`` or ``method`` argument, or such an entry
  of a ``parameters`` dict, must be ``GET`` or ``HEAD``;
* django-storages ``S3Storage``: that rule alone (``http_method``);
  ``parameters`` (response headers of the GET) and ``expire`` keep working;
* django-storages ``AzureStorage``: ``mode``, and a ``permission`` entry of
  ``parameters``, may hold only the read-only SAS letters ``r`` (read) and
  ``l`` (list); a ``policy_id`` entry is refused, since a stored access policy
  can grant any permission the URL does not show;
* django-storages ``GoogleCloudStorage``: the first rule, read in the
  ``parameters`` it passes to ``Blob.generate_signed_url``: ``method`` must be
  ``GET`` or ``HEAD`` (``PUT``, ``POST``, ``DELETE`` and ``RESUMABLE``, which
  starts an upload, are refused).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from typing import Any

from django.core.files.storage import Storage

from fallback_storage import cloud_guards

__all__ = ["READ_SAS_LETTERS", "refused_url"]

READ_HTTP_METHODS = frozenset({"GET", "HEAD"})
#: Azure SAS permission letters that never write: read and list.
READ_SAS_LETTERS = frozenset("rl")
_METHOD_ARGUMENTS = ("http_method", "method")


def refused_url(
    storage: Storage, name: str | None, args: tuple[Any, ...], kwargs: Any
) -> str | None:
    """What ``storage.url(name, *args, **kwargs)`` would sign that writes, or None.

    The answer completes "refused to ...", e.g. ``"sign a PUT URL for"``.
    """
    for layer in cloud_guards.reachable(storage):
        arguments = _bind(layer, name, args, kwargs)
        reason = _generic(arguments) or _azure(layer, arguments)
        if reason is not None:
            return reason
    return None


_signatures: dict[type[Storage], inspect.Signature] = {}


def _url_signature(storage_class: type[Storage]) -> inspect.Signature:
    signature = _signatures.get(storage_class)
    if signature is None:
        signature = _signatures[storage_class] = inspect.signature(storage_class.url)
    return signature


def _bind(storage: Storage, name: str | None, args: tuple[Any, ...], kwargs: Any) -> dict[str, Any]:
    """The named arguments of the call as ``storage.url`` receives them."""
    try:
        bound = _url_signature(type(storage)).bind(storage, name, *args, **kwargs)
    except (TypeError, ValueError):
        # The backend will reject the call itself; still look at what was named.
        return dict(kwargs)
    arguments: dict[str, Any] = {}
    for parameter, value in bound.arguments.items():
        kind = bound.signature.parameters[parameter].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            arguments[parameter] = value
    return arguments


def _parameters(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    parameters = arguments.get("parameters")
    return parameters if isinstance(parameters, Mapping) else {}


def _generic(arguments: Mapping[str, Any]) -> str | None:
    for source in (arguments, _parameters(arguments)):
        for argument in _METHOD_ARGUMENTS:
            method = source.get(argument)
            if method is not None and str(method).upper() not in READ_HTTP_METHODS:
                return f"sign a {str(method).upper()} URL for"
    return None


def _is_instance(storage: object, module: str, class_name: str) -> bool:
    # As s3_guard.is_s3_storage: never import a backend that is not in use.
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(storage, getattr(loaded, class_name))


def _azure(storage: Storage, arguments: Mapping[str, Any]) -> str | None:
    if not _is_instance(storage, "storages.backends.azure_storage", "AzureStorage"):
        return None
    parameters = _parameters(arguments)
    for permission in (arguments.get("mode"), parameters.get("permission")):
        # A BlobSasPermissions object prints as its letters.
        letters = "" if permission is None else str(permission)
        if not set(letters) <= READ_SAS_LETTERS:
            return f"sign a URL with SAS permissions {letters!r} for"
    if parameters.get("policy_id") is not None:
        return f"sign a URL with stored access policy {parameters['policy_id']!r} for"
    return None
