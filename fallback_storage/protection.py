"""The process-wide register of protected cloud containers.

A :class:`~fallback_storage.readonly.ReadOnlyStorage` over a cloud backend
registers the backend's container here (an S3 bucket, an Azure Blob container,
a Google Cloud Storage bucket). Each service's guard hooks its SDK once, at the
class level, and asks this register about every request, so the protection
lives with the container rather than with one storage object: a client built
anywhere in the process, before or after, in any thread, is refused a write to
a registered container. Once registered, a container stays protected for the
life of the process; nothing here removes it.

A container is identified by its service, its endpoint and its name. The
endpoint is the guard's own identity of where the container lives (``"aws"``
for every Amazon S3 endpoint, since bucket names are global there; the
normalised ``host:port`` of a custom endpoint such as MinIO or an emulator), so
a bucket of the same name on another endpoint stays writable.
:func:`endpoint_identity` is the shared normalisation: the same endpoint
spelled differently (``localhost`` and ``127.0.0.1``, upper case, an explicit
default port, a trailing slash) is the same endpoint.

:func:`seeding` is the one exception, for test fixtures that fill an emulated
production container after the settings under test protected it: inside the
``with`` block, and only in the thread or task that entered it, the named
containers take writes again.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

__all__ = [
    "Container",
    "endpoint_identity",
    "is_protected",
    "protect",
    "protected_by",
    "protected_containers",
    "protecting",
    "seeding",
]

logger = logging.getLogger(__name__)

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclasses.dataclass(frozen=True)
class Container:
    """One protected container: ``service`` (``"s3"``, ``"azure"``, ``"gcs"``),
    the ``endpoint`` identity and the container ``name``."""

    service: str
    endpoint: str
    name: str

    def __str__(self) -> str:
        return f"{self.service}://{self.name} on {self.endpoint}"


_lock = threading.Lock()
# Container -> how the backend that protected it is named in refusals.
_protected: dict[Container, str] = {}
_seeding: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "fallback_storage_seeding", default=frozenset()
)


def endpoint_identity(url: str | None, *, cloud: str, cloud_hosts: tuple[str, ...]) -> str:
    """The identity of the endpoint at ``url``.

    ``cloud`` when ``url`` is None (the SDK's default endpoint) or its host is
    one of ``cloud_hosts`` or ends with one of them preceded by a dot;
    otherwise ``host:port``, lower case, with the scheme's default port filled
    in and every loopback address spelled ``loopback``.
    """
    if not url:
        return cloud
    parts = urlsplit(url if "//" in url else f"//{url}")
    host = (parts.hostname or "").lower().rstrip(".")
    if any(host == known or host.endswith(f".{known}") for known in cloud_hosts):
        return cloud
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    if host in _LOOPBACK_HOSTS or host.startswith("127."):
        host = "loopback"
    return f"{host}:{port}"


def protect(container: Container, *, backend: str) -> None:
    """Register ``container`` as read-only for the rest of the process.

    ``backend`` names the protecting storage in refusals, e.g.
    ``"S3Storage(bucket_name='prod-media')"``. Registering a container again
    keeps the first description.
    """
    with _lock:
        if container in _protected:
            return
        _protected[container] = backend
    logger.info("Protected %s against writes from this process (%s).", container, backend)


def protected_by(container: Container) -> str | None:
    """How the storage that protected ``container`` is named, or None if it is writable.

    None too inside :func:`seeding` for its name.
    """
    if not _protected:
        return None
    backend = _protected.get(container)
    if backend is None or container.name in _seeding.get():
        return None
    return backend


def protecting(
    service: str, *, endpoint: str | None = None, name: str | None = None
) -> tuple[Container, str] | None:
    """The first protected container of ``service`` at ``endpoint`` named ``name``; its backend.

    ``None`` for ``endpoint`` or ``name`` matches any. For a guard that cannot
    tell exactly which container a request reaches (an access point, a
    transfer client that discards the endpoint) and so refuses it if any
    candidate is protected. Containers inside :func:`seeding` for their name
    do not count.
    """
    if not _protected:
        return None
    seeded = _seeding.get()
    with _lock:
        candidates = list(_protected.items())
    for container, backend in candidates:
        if (
            container.service == service
            and (endpoint is None or container.endpoint == endpoint)
            and (name is None or container.name == name)
            and container.name not in seeded
        ):
            return container, backend
    return None


def is_protected(container: Container) -> bool:
    """Whether writes to ``container`` are refused in this process."""
    return container in _protected


def protected_containers(service: str | None = None) -> list[Container]:
    """Every registered container (of ``service``, when given), in registration order."""
    with _lock:
        return [c for c in _protected if service is None or c.service == service]


@contextmanager
def seeding(*names: str) -> Iterator[None]:
    """Let this thread or task write to the containers called ``names``, for test fixtures.

    Meant for a fixture that fills an emulated production bucket (moto,
    Azurite, the GCS emulator) after the settings under test protected it.
    Other threads stay refused; leaving the block refuses writes again.
    """
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(
            f"seeding() needs container names, got {names!r}; pass the bucket or container "
            f"names the fixture fills, e.g. seeding('prod-media')."
        )
    logger.warning("Writes to %s are allowed in this thread while seeding.", ", ".join(names))
    token = _seeding.set(_seeding.get() | frozenset(names))
    try:
        yield
    finally:
        _seeding.reset(token)
