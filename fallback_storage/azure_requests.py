"""What an HTTP request to Azure Blob Storage targets, and whether it only reads.

The Azure guard (:mod:`fallback_storage.azure_guard`) and the test guard
(:class:`fallback_storage.cloud_testing.AzureContainerGuard`) look at every request
the SDK sends, after all of its pipeline policies ran, and ask this module
which container and blob it reaches and whether it is a read. Nothing here
imports the SDK.

How a container is identified (the ``endpoint`` of its
:class:`~fallback_storage.protection.Container`):

* On Azure's own clouds (``<account>.blob.core.windows.net``, the sovereign
  clouds' ``core.chinacloudapi.cn``, ``core.usgovcloudapi.net``,
  ``core.cloudapi.de``, private-link, DNS-zone ``*.blob.storage.azure.net``,
  ``-secondary`` read replicas, the ``dfs`` endpoint of the same account), by
  the account: the endpoint is ``<account>.blob.<cloud suffix>``, lower case.
* On another host whose name has a ``blob`` label (Azure Stack Hub,
  ``<account>.blob.localhost``), ``<account>.`` followed by the normalised
  ``host:port`` of the rest.
* Everywhere else (Azurite, emulators, custom endpoints), path-style as
  Azurite serves it: the account is the first path segment and the endpoint is
  the normalised ``host:port`` followed by ``/<account>``.

Container names are compared in lower case (Azure only allows lower case);
blob names as they are.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from fallback_storage.protection import Container, endpoint_identity

__all__ = ["AzureTarget", "container_at", "targets"]

SERVICE = "azure"
READ_METHODS = frozenset({"GET", "HEAD"})
# Query Blob Contents is sent as a POST but only reads (it filters a blob server-side).
READ_POST_COMPS = frozenset({"query"})
_CLOUD_SUFFIXES = {
    "core.windows.net": "core.windows.net",
    "storage.azure.net": "core.windows.net",  # DNS-zone endpoints: <account>.z<N>.blob...
    "core.chinacloudapi.cn": "core.chinacloudapi.cn",
    "core.usgovcloudapi.net": "core.usgovcloudapi.net",
    "core.cloudapi.de": "core.cloudapi.de",
}
_SERVICE_LABELS = ("blob", "dfs")
_ACCOUNT_SUFFIXES = ("-secondary", "-ipv6", "-dualstack")
_BATCH_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]\r?$", re.MULTILINE)
_PUT_OPERATIONS = {
    "block": "Put Block",
    "blocklist": "Put Block List",
    "page": "Put Page",
    "appendblock": "Append Block",
    "metadata": "Set Metadata",
    "properties": "Set Properties",
    "acl": "Set Container ACL",
    "lease": "Lease",
    "snapshot": "Snapshot Blob",
    "copy": "Abort Copy Blob",
    "tier": "Set Blob Tier",
    "tags": "Set Blob Tags",
    "undelete": "Undelete",
    "rename": "Rename Container",
    "expiry": "Set Blob Expiry",
    "immutabilitypolicies": "Set Blob Immutability Policy",
    "legalhold": "Set Blob Legal Hold",
    "incrementalcopy": "Incremental Copy Blob",
    "seal": "Seal Append Blob",
}


@dataclasses.dataclass(frozen=True)
class AzureTarget:
    """One container (and blob) an HTTP request reaches, and what it does there."""

    endpoint: str
    account: str
    container: str
    blob: str | None
    operation: str
    is_read: bool

    @property
    def protected_container(self) -> Container:
        """The container, as :mod:`fallback_storage.protection` registers it."""
        return Container(SERVICE, self.endpoint, self.container)

    @property
    def where(self) -> str:
        """``azure://<account>/<container>[/<blob>]``."""
        path = f"{self.container}/{self.blob}" if self.blob else self.container
        return f"azure://{self.account}/{path}"


def _account_endpoint(url: str) -> tuple[str, str, list[str]] | None:
    """``(endpoint, account, path segments after the account)`` for ``url``, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return None
    # Azure decodes the path before splitting it: %2F separates like a slash.
    segments = unquote(parts.path).lstrip("/").split("/")
    labels = host.split(".")
    service = next((i for i in range(1, len(labels)) if labels[i] in _SERVICE_LABELS), None)
    if service is not None:
        account = labels[0]
        for suffix in _ACCOUNT_SUFFIXES:
            account = account.removesuffix(suffix)
        rest = ".".join(labels[service + 1 :])
        cloud = _CLOUD_SUFFIXES.get(rest)
        if cloud is not None:
            return f"{account}.blob.{cloud}", account, segments
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ""
        scheme = parts.scheme or "https"
        rest_host = "localhost" if rest == "localhost" or rest.endswith(".localhost") else rest
        identity = endpoint_identity(f"{scheme}://{rest_host}{port}", cloud="", cloud_hosts=())
        return f"{account}.blob.{identity}", account, segments
    if not segments or not segments[0]:
        return None
    account = segments[0]
    identity = endpoint_identity(url, cloud="", cloud_hosts=())
    return f"{identity}/{account}", account, segments[1:]


def container_at(url: str) -> tuple[Container, str] | None:
    """The container a container URL names, and its account; None if it names none."""
    found = _account_endpoint(url)
    if found is None or len(found[2]) != 1 or not found[2][0]:
        return None
    endpoint, account, (container,) = found
    return Container(SERVICE, endpoint, container.lower()), account


def _operation(
    method: str, query: Mapping[str, str], headers: Mapping[str, str], blob: bool
) -> str:
    comp = query.get("comp", "").lower()
    on = "Blob" if blob else "Container"
    if method in READ_METHODS:
        if comp == "list":
            return "List Blobs"
        if not comp:
            return f"Get {on}" if method == "GET" else f"Get {on} Properties"
        return f"{method} ?comp={comp}"
    if method == "POST" and comp in {"batch", "query"}:
        return "Blob Batch" if comp == "batch" else "Query Blob Contents"
    if method == "DELETE" and not comp:
        return f"Delete {on}"
    if method == "PUT":
        if comp in _PUT_OPERATIONS:
            name = _PUT_OPERATIONS[comp]
            return f"{name} ({on})" if comp in {"metadata", "properties", "lease"} else name
        if not comp:
            if "x-ms-copy-source" in headers:
                return "Copy Blob"
            return "Put Blob" if blob else "Create Container"
    return f"{method} ?comp={comp}" if comp else method


def _is_read(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    override = headers.get("x-http-method-override", method).upper()
    if method in READ_METHODS and override in READ_METHODS:
        return True
    return method == "POST" and override == "POST" and query.get("comp", "") in READ_POST_COMPS


def _request_targets(method: str, url: str, headers: Mapping[str, str]) -> Iterator[AzureTarget]:
    found = _account_endpoint(url)
    if found is None:
        return
    endpoint, account, segments = found
    query = {key.lower(): value for key, value in parse_qsl(urlsplit(url).query)}
    method = method.upper()
    is_read = _is_read(method, query, headers)
    if segments and segments[0]:
        blob = "/".join(segments[1:]) or None
        container = segments[0].lower()
        if len(segments) == 1 and "restype" not in query:
            # A one-segment path without restype=container names a blob of $root.
            root = _operation(method, query, headers, True)
            yield AzureTarget(endpoint, account, "$root", segments[0], root, is_read)
        operation = _operation(method, query, headers, blob is not None)
        yield AzureTarget(endpoint, account, container, blob, operation, is_read)
    # Renaming a container, or a Data Lake path, empties the source.
    source_container = headers.get("x-ms-source-container-name")
    if source_container:
        yield AzureTarget(
            endpoint, account, source_container.lower(), None, "Rename Container", False
        )
    rename_source = headers.get("x-ms-rename-source")
    if rename_source:
        source = unquote(rename_source.split("?", 1)[0]).lstrip("/").split("/")
        yield AzureTarget(
            endpoint,
            account,
            source[0].lower(),
            "/".join(source[1:]) or None,
            "Rename Path",
            False,
        )


def targets(method: str, url: str, headers: Mapping[str, str], body: object) -> list[AzureTarget]:
    """Every container and blob the request reaches, the parts of a batch included.

    ``headers`` may have any case; ``body`` is the request body as sent.
    """
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    found = list(_request_targets(method, url, lowered))
    if "comp=batch" in url.lower():
        content = body.encode("utf-8") if isinstance(body, str) else body
        if isinstance(content, (bytes, bytearray)):
            for sub_method, sub_url in _BATCH_REQUEST_LINE.findall(bytes(content)):
                absolute = urljoin(url, sub_url.decode("latin-1"))
                # Every operation a batch can hold (Delete Blob, Set Blob Tier) writes.
                found.extend(
                    dataclasses.replace(target, is_read=False)
                    for target in _request_targets(sub_method.decode("latin-1"), absolute, {})
                )
    return found
