from __future__ import annotations

from django import forms

from gallery.models import Photo


class PhotoForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Photo
        fields = ["title", "image"]
        widgets = {"image": forms.ClearableFileInput(attrs={"accept": "image/*"})}
