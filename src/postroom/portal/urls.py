"""The portal's pages, mounted at /portal/."""

from __future__ import annotations

from django.urls import path

from postroom.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.sign_in, name="sign-in"),
    path("link/<str:token>/", views.link, name="link"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/<str:reference>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<str:reference>/reply/", views.ticket_reply, name="ticket-reply"),
    path("tickets/<str:reference>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
