from __future__ import annotations

from django.urls import path

from gallery import views

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("photos/<int:pk>/delete/", views.delete, name="delete"),
    path("status.json", views.status_json, name="status-json"),
]
