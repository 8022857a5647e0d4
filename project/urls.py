from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("reconciler.api.urls")),
    path("", include("reconciler.observe.urls")),
]
