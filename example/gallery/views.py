"""The gallery, the upload form, the delete button and the production status panel."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from demo_site import production
from django.conf import settings
from django.contrib import messages
from django.core.files.storage import Storage, default_storage
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from fallback_storage import ReadOnlyStorageError
from gallery.forms import PhotoForm
from gallery.models import Photo

logger = logging.getLogger(__name__)

LOCAL, PRODUCTION = "local", "production"


@dataclass
class Layer:
    label: str
    storage: Storage


def layers() -> list[Layer]:
    """The backends of the default FallbackStorage, in lookup order, named for people."""
    backends = getattr(default_storage, "backends", (default_storage,))
    return [
        Layer(PRODUCTION if getattr(backend, "read_only", False) else LOCAL, backend)
        for backend in backends
    ]


def describe_storage() -> str:
    """The default storage's layers as the page shows them."""
    names = []
    for layer in layers():
        storage = layer.storage
        inner = getattr(storage, "backend", None)
        if layer.label == LOCAL:
            names.append("local media directory")
        elif inner is not None:
            names.append(f"{type(storage).__name__}({type(inner).__name__})")
        else:
            names.append(repr(storage))
    return f"FallbackStorage([{', '.join(names)}])"


def layers_holding(name: str) -> list[Layer]:
    """The layers that have the file ``name``; the first of them serves it."""
    return [layer for layer in layers() if layer.storage.exists(name)]


def describe(photo: Photo) -> dict[str, Any]:
    holding = layers_holding(photo.image.name or "")
    labels = [layer.label for layer in holding]
    return {
        "id": photo.pk,
        "title": photo.title,
        "name": photo.image.name,
        "url": photo.image.url,
        "layers": labels,
        "served_by": labels[0] if labels else None,
        "shadows_production": labels[:1] == [LOCAL] and PRODUCTION in labels,
    }


def _page(request: HttpRequest, form: PhotoForm, status: int = 200) -> HttpResponse:
    photos = [describe(photo) for photo in Photo.objects.all()]
    prod = production.current()
    panel = prod.status() if prod else None
    context = {
        "storage": describe_storage(),
        "photos": photos,
        "form": form,
        "production": panel,
        "recent_requests": production.recent(panel["requests"], 15) if panel else [],
        "served_by": {
            label: sum(photo["served_by"] == label for photo in photos)
            for label in (LOCAL, PRODUCTION)
        },
    }
    return render(request, "gallery/gallery.html", context, status=status)


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    return _page(request, PhotoForm())


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    form = PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    photo = form.save()
    served_by = layers_holding(photo.image.name or "")
    where = served_by[0].label if served_by else "nowhere"
    messages.success(
        request, f"Uploaded “{photo.title}”: saved as {photo.image.name} in the {where} layer."
    )
    return redirect("gallery")


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Delete a photo whose file is local; refuse one whose file is only in production.

    Asking ``FallbackStorage.delete()`` directly would not do: under the 1.x rule it
    deletes from the first backend that accepts the call, and
    ``FileSystemStorage.delete()`` of a missing file succeeds silently, so a
    production-only file would be reported deleted while it kept being served.
    So the view first asks each layer whether it has the file.
    """
    photo = get_object_or_404(Photo, pk=pk)
    name = photo.image.name or ""
    holding = layers_holding(name)
    local = [layer for layer in holding if layer.label == LOCAL]
    in_production = [layer for layer in holding if layer.label == PRODUCTION]
    if local:
        for layer in local:
            layer.storage.delete(name)
        if in_production:
            messages.success(
                request,
                f"Deleted the local copy of “{photo.title}” ({name}); "
                f"the production copy is served again.",
            )
        else:
            photo.delete()
            messages.success(request, f"Deleted “{photo.title}” and its local file {name}.")
    elif in_production:
        try:
            # Refused by ReadOnlyStorage (or HTTPStorage) before any request is made.
            in_production[0].storage.delete(name)
        except ReadOnlyStorageError as error:
            messages.error(
                request,
                f"Refused: “{photo.title}” ({name}) exists only in the production bucket, "
                f"which this site reads but never writes, so it was not deleted. "
                f"{type(in_production[0].storage).__name__} said: {error}",
            )
        else:  # pragma: no cover - only if production were writable
            logger.error("The production layer deleted %r; it should be read-only.", name)
            messages.error(request, f"The production layer deleted {name}; check the settings.")
    else:
        photo.delete()
        messages.warning(
            request, f"Deleted “{photo.title}”; its file {name} was in no layer already."
        )
    return redirect("gallery")


@require_GET
def status_json(request: HttpRequest) -> JsonResponse:
    """The status panel as data: each photo's layers, and what reached production."""
    prod = production.current()
    return JsonResponse(
        {
            "photos": [describe(photo) for photo in Photo.objects.all()],
            "media_root": str(settings.MEDIA_ROOT),
            "production": prod.status() if prod else None,
        }
    )
