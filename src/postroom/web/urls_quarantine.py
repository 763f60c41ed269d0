"""Console pages (quarantine), included by postroom.urls at /quarantine/."""

from __future__ import annotations

from django.urls import URLPattern, path

from postroom.web import quarantine_views

urlpatterns: list[URLPattern] = [
    path("", quarantine_views.quarantine_list, name="quarantine-list"),
    path("<str:tracking_id>/", quarantine_views.quarantine_detail, name="quarantine-detail"),
    path("<str:tracking_id>/release/", quarantine_views.quarantine_release, name="quarantine-release"),
    path("<str:tracking_id>/delete/", quarantine_views.quarantine_delete, name="quarantine-delete"),
    path("<str:tracking_id>/allow-sender/", quarantine_views.quarantine_allow_sender, name="quarantine-allow-sender"),
]
