"""The first successful answer of any layer, for the operations that look up no name.

``get_valid_name()``, ``generate_filename()``, ``get_alternative_name()``, a
``url()`` the chosen layer cannot compute, and the writes that fall through
(``delete()`` and ``open()`` for writing without whiteouts) ask the layers in
order and take the first answer; a layer that does not implement the method
is skipped. Reads of a name go through :mod:`fallback_storage.lookup` instead.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import SuspiciousOperation

from fallback_storage.exceptions import OperationNotImplemented
from fallback_storage.failures import Failure, combine
from fallback_storage.layers import Layers

__all__ = ["first", "not_implemented"]


def first(
    layers: Layers, method: str, name: str | None, *args: Any, read: bool = True, **kwargs: Any
) -> Any:
    """The first successful ``method(*args, **kwargs)`` of any layer, no name lookup.

    ``read`` False for a write: the error raised is then the layers' own (see
    :func:`fallback_storage.failures.combine`).
    """
    failures: list[Failure] = []
    for index, backend in enumerate(layers.backends):
        function = getattr(backend, method, None)
        if function is None:
            continue
        try:
            return function(*args, **kwargs)
        except SuspiciousOperation:
            raise
        except NotImplementedError:
            continue
        except Exception as error:
            failures.append(Failure(index, backend, error))
    if not failures:
        raise not_implemented(method, layers)
    raise combine(failures, method, name, read=read)


def not_implemented(method: str, layers: Layers) -> OperationNotImplemented:
    """The error for an operation no layer implements."""
    classes = ", ".join(type(backend).__qualname__ for backend in layers.backends)
    return OperationNotImplemented(
        f"No backend of FallbackStorage implements {method}() ({classes}); add a backend that does."
    )
