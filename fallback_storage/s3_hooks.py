"""The botocore hooks that refuse writes to protected S3 buckets, installed once per process.

They replace four methods at the class level, so they hold for every client
in the process, however and whenever it was built. Each was read in
botocore's and s3transfer's source, and each is proved by its own test:

* ``BaseClient._emit_api_params``: every API call (``_make_api_call``: client
  methods, resources, paginators, waiters, managed transfers, the CRT
  transfer manager's request serializer) and every presigned URL and POST form
  passes its parameters through it. Here the bucket and key are known; the
  check runs after the client's own ``provide-client-params`` and
  ``before-parameter-build`` handlers, on the parameters that will be sent. An
  operation that is not a read (:func:`fallback_storage.s3_operations.is_read_operation`)
  to a protected bucket is refused; the target is left in the request context
  for the two checks below. A presigned request is judged where it is signed.
* ``Endpoint.make_request``: the HTTP method actually sent, before anything in
  the process can answer the request (moto's ``mock_aws`` answers in the
  ``before-send`` event, further down).
* ``RequestSigner.sign``: every signature, for requests sent and presigned
  alike, after ``HttpMethod`` switched a presigned URL's method; a presigned
  POST form (an upload) to a protected bucket is refused here.
* ``s3transfer.crt.BotocoreCRTRequestSerializer.serialize_http_request`` (when
  awscrt is installed): the CRT transfer manager serializes each request with
  a botocore client built for Amazon S3's default endpoint, whatever endpoint
  the caller's client had. While it does, a bucket protected on any endpoint
  counts, so a CRT upload or delete never reaches a protected bucket's name.

A request that reaches the last two without the first (botocore's private
internals called directly) carries no target; while any bucket is protected
it is let through only if it reads. An access point (an ARN or an alias) names
no bucket, so a write through one is refused while any bucket on that endpoint
is protected.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fallback_storage import protection, s3_operations
from fallback_storage.exceptions import ReadOnlyStorageError

__all__ = ["Target", "install", "installed"]

# Where the parameter check leaves the Target for the request and signing checks.
TARGET = "fallback_storage_s3_target"

_lock = threading.Lock()
_installed: list[tuple[type, str, Callable[..., Any]]] = []
_serializing_for_crt: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "fallback_storage_serializing_for_crt", default=False
)


@dataclasses.dataclass(frozen=True)
class Target:
    """What an S3 request reaches: the endpoint identity, bucket and key, and whether it reads."""

    endpoint: str
    bucket: str | None
    key: str | None
    reads: bool


def _protector(target: Target) -> str | None:
    """How the backend that protects ``target``'s bucket is named, or None if it is writable."""
    bucket = target.bucket
    if bucket is None:
        return None
    any_endpoint = _serializing_for_crt.get()
    endpoint = None if any_endpoint else target.endpoint
    if _is_access_point(bucket):
        found = protection.protecting(s3_operations.SERVICE, endpoint=endpoint)
    else:
        found = protection.protecting(s3_operations.SERVICE, endpoint=endpoint, name=bucket)
    return found[1] if found is not None else None


def _is_access_point(bucket: str) -> bool:
    return bucket.startswith("arn:") or bucket.endswith(("-s3alias", "--op-s3"))


def _refusal(what: str, *, operation: str, target: Target | None, backend: str) -> Exception:
    where = ""
    if target is not None and target.bucket is not None:
        location = f"s3://{target.bucket}/{target.key}" if target.key else f"s3://{target.bucket}"
        where = f" on {location!r}"
        if _is_access_point(target.bucket):
            where += " (an access point, which may reach a protected bucket)"
    if where:
        reason = f"{backend} is wrapped in ReadOnlyStorage, which keeps its bucket read-only"
    else:  # any of several protected buckets: naming one would be a guess
        reason = (
            "its bucket cannot be told from the request, and ReadOnlyStorage keeps buckets "
            "read-only"
        )
    return ReadOnlyStorageError(
        f"{what}{where} was refused; {reason} in this whole process, so write to a writable "
        f"layer or to another bucket.",
        operation=operation,
        name=target.key if target is not None else None,
        backend=backend,
        bucket=target.bucket if target is not None else None,
    )


def _unknown_target_protector() -> str | None:
    found = protection.protecting(s3_operations.SERVICE)
    return found[1] if found is not None else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


# -- the hooks ----------------------------------------------------------------------------


def _check_parameters(
    original: Callable[..., Any],
    client: Any,
    api_params: Mapping[str, Any],
    operation_model: Any,
    context: dict[str, Any],
) -> Any:
    params = original(client, api_params, operation_model, context)
    if client.meta.service_model.service_name != s3_operations.SERVICE:
        return params
    operation = operation_model.name
    target = Target(
        endpoint=s3_operations.endpoint_of(client.meta.endpoint_url),
        bucket=_text(params.get("Bucket")),
        key=_text(params.get("Key")),
        reads=s3_operations.is_read_operation(operation, params),
    )
    context[TARGET] = target
    if not target.reads and not context.get("is_presign_request"):
        backend = _protector(target)
        if backend is not None:
            raise _refusal(
                f"S3 operation {operation!r}", operation=operation, target=target, backend=backend
            )
    return params


def _check_request(
    original: Callable[..., Any], endpoint: Any, operation_model: Any, request_dict: Any
) -> Any:
    if operation_model.service_model.service_name == s3_operations.SERVICE:
        operation = operation_model.name
        method = str(request_dict.get("method") or "").upper()
        target = (request_dict.get("context") or {}).get(TARGET)
        _check_sent(operation, method, target, what=f"HTTP {method} request")
    return original(endpoint, operation_model, request_dict)


def _check_sent(operation: str, method: str, target: Target | None, *, what: str) -> None:
    if target is None:
        reads = operation in s3_operations.read_only_operations()
        backend = _unknown_target_protector()
    else:
        reads = target.reads
        backend = _protector(target)
    if backend is not None and not (reads and s3_operations.is_read_request(operation, method)):
        raise _refusal(
            f"{what} for S3 operation {operation!r}",
            operation=operation,
            target=target,
            backend=backend,
        )


def _check_signature(
    original: Callable[..., Any],
    signer: Any,
    operation_name: str,
    request: Any,
    region_name: str | None = None,
    signing_type: str = "standard",
    expires_in: int | None = None,
    signing_name: str | None = None,
) -> Any:
    is_s3 = signer._service_id.hyphenize() == s3_operations.SERVICE
    if is_s3:
        _check_signing(operation_name, request, signing_type)
    signed = original(
        signer, operation_name, request, region_name, signing_type, expires_in, signing_name
    )
    if is_s3:
        # Once more with what was signed: a before-sign handler may have changed the method.
        _check_signing(operation_name, request, signing_type)
    return signed


def _check_signing(operation: str, request: Any, signing_type: str) -> None:
    context = request.context
    target: Target | None = context.get(TARGET)
    method = str(request.method or "").upper()
    if signing_type == "presign-post":
        fields = context.get("s3-presign-post-fields") or {}
        if target is not None:
            target = dataclasses.replace(target, key=_text(fields.get("key")), reads=False)
        backend = _protector(target) if target else _unknown_target_protector()
        if backend is not None:
            raise _refusal(
                "Presigned POST for S3 operation 'PutObject'",
                operation="PutObject",
                target=target,
                backend=backend,
            )
    elif signing_type == "presign-url":
        if target is not None and not target.reads:
            backend = _protector(target)
            if backend is not None:
                raise _refusal(
                    f"Presigning S3 operation {operation!r}",
                    operation=operation,
                    target=target,
                    backend=backend,
                )
        _check_sent(operation, method, target, what=f"Presigned {method} URL")
    else:
        _check_sent(operation, method, target, what=f"Signed HTTP {method} request")


def _serialize_for_crt(
    original: Callable[..., Any], serializer: Any, transfer_type: str, future: Any
) -> Any:
    token = _serializing_for_crt.set(True)
    try:
        return original(serializer, transfer_type, future)
    finally:
        _serializing_for_crt.reset(token)


# -- installing them ------------------------------------------------------------------------


def _replace(owner: type, name: str, check: Callable[..., Any]) -> None:
    original = owner.__dict__[name]

    @functools.wraps(original)
    def checked(*args: Any, **kwargs: Any) -> Any:
        return check(original, *args, **kwargs)

    setattr(owner, name, checked)
    _installed.append((owner, name, checked))


def install() -> None:
    """Install the hooks, once per process; they stay for its life."""
    with _lock:
        if _installed:
            return
        from botocore.client import BaseClient
        from botocore.compat import HAS_CRT
        from botocore.endpoint import Endpoint
        from botocore.signers import RequestSigner

        _replace(BaseClient, "_emit_api_params", _check_parameters)
        _replace(Endpoint, "make_request", _check_request)
        _replace(RequestSigner, "sign", _check_signature)
        if HAS_CRT:
            try:
                from s3transfer.crt import BotocoreCRTRequestSerializer
            except ImportError:  # pragma: no cover - an awscrt too old for s3transfer
                pass
            else:
                _replace(BotocoreCRTRequestSerializer, "serialize_http_request", _serialize_for_crt)


def installed() -> bool:
    """Whether the hooks are installed and still in place (nothing replaced them since)."""
    with _lock:
        return bool(_installed) and all(
            owner.__dict__.get(name) is checked for owner, name, checked in _installed
        )
