"""The files that rows reference, for ``fallback_storage pull --model ... --filter ...``.

``--model app_label.Model`` selects every file field of the model,
``app_label.Model.field`` one; ``--filter`` field lookups (``created__gte=2026-01-01``,
``id__in=1,2,3``, ``cover__isnull=false``) narrow the rows, validated against the
model before anything is pulled. Names come from the database, never from a
listing, so the layer that serves each is found when it is pulled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from django.apps import apps
from django.core.exceptions import FieldError, ValidationError
from django.core.files.storage import Storage
from django.db import DatabaseError, models

from fallback_storage.exceptions import PullUsageError

__all__ = ["parse_filters", "select_rows"]


def select_rows(
    spec: str, lookups: list[tuple[str, str, object]]
) -> Iterator[tuple[str, Storage, Iterable[str]]]:
    """For each file field ``spec`` names: its label, its storage and the names rows hold."""
    model, fields = _file_fields(spec)
    rows = model._default_manager.all()
    for text, key, value in lookups:
        try:
            rows = rows.filter(**{key: value})
        except (FieldError, ValidationError, ValueError, TypeError) as error:
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else error
            raise PullUsageError(
                f"--filter {text!r} does not apply to {model._meta.label}: {message}; use a "
                f"lookup of its fields, e.g. --filter created__gte=2026-01-01."
            ) from error
    for field in fields:
        names = (
            rows.exclude(**{f"{field.attname}__isnull": True})
            .exclude(**{field.attname: ""})
            .order_by(field.attname)
            .values_list(field.attname, flat=True)
            .distinct()
        )
        try:
            listed = [str(name) for name in names.iterator()]
        except DatabaseError as error:
            raise PullUsageError(
                f"--model {spec!r}: the rows of {model._meta.label} cannot be read ({error}); "
                f"check the database settings and run 'manage.py migrate'."
            ) from error
        yield f"{model._meta.label}.{field.name}", field.storage, listed


def _file_fields(spec: str) -> tuple[type[models.Model], list[models.FileField]]:
    segments = spec.split(".")
    if len(segments) not in (2, 3) or not all(segments):
        raise PullUsageError(
            f"--model {spec!r} is neither app_label.Model nor app_label.Model.field; "
            f"write e.g. --model blog.Post or --model blog.Post.cover."
        )
    try:
        model = apps.get_model(segments[0], segments[1])
    except LookupError as error:
        raise PullUsageError(
            f"--model {spec!r} names no installed model ({error}); check the app label and "
            f"the model name, e.g. --model blog.Post."
        ) from error
    file_fields = [
        field for field in model._meta.get_fields() if isinstance(field, models.FileField)
    ]
    names = ", ".join(field.name for field in file_fields) or "none"
    if len(segments) == 3:
        chosen = [field for field in file_fields if field.name == segments[2]]
        if not chosen:
            raise PullUsageError(
                f"--model {spec!r}: {model._meta.label} has no file field {segments[2]!r}; "
                f"name one of its file fields ({names})."
            )
        return model, chosen
    if not file_fields:
        raise PullUsageError(
            f"--model {spec!r}: {model._meta.label} has no FileField or ImageField; name a "
            f"model that has file fields."
        )
    return model, file_fields


def parse_filters(filters: Sequence[str]) -> list[tuple[str, str, object]]:
    """``(text, lookup, value)`` of each ``--filter``; ``__in`` splits on commas."""
    lookups: list[tuple[str, str, object]] = []
    for text in filters:
        key, equals, raw = text.partition("=")
        if not equals or not key.strip():
            raise PullUsageError(
                f"--filter {text!r} is not a field lookup; write FIELD__LOOKUP=VALUE, "
                f"e.g. --filter created__gte=2026-01-01."
            )
        key = key.strip()
        value: object = raw
        if key.endswith("__in"):
            value = [part for part in raw.split(",") if part]
        elif key.endswith("__isnull"):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise PullUsageError(
                    f"--filter {text!r} needs true or false after '='; write e.g. "
                    f"--filter {key}=true."
                )
            value = raw.lower() in ("true", "1")
        lookups.append((text, key, value))
    return lookups
