"""A project that mounts the admin but not ``reconciler.observe.urls``: its charts come inline."""
from __future__ import annotations

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
