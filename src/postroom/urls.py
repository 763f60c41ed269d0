"""URL configuration."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from postroom.api.urls import api
from postroom.web import views

urlpatterns = [
    path("api/", api.urls),
    path("login/", auth_views.LoginView.as_view(template_name="postroom/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.ticket_list, name="ticket-list"),
    path("tickets/<str:reference>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<str:reference>/reply/", views.ticket_reply, name="ticket-reply"),
    path("tickets/<str:reference>/status/", views.ticket_status, name="ticket-status"),
    path("messages/<int:pk>/headers/", views.message_headers, name="message-headers"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment-download"),
    path("inbound/", views.inbound_list, name="inbound-list"),
    path("inbound/<str:tracking_id>/", views.inbound_trace, name="inbound-trace"),
    path("quarantine/", include("postroom.web.urls_quarantine")),
    path("admin/", include("postroom.web.urls_admin")),
    path("portal/", include("postroom.portal.urls")),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    return views.problem_page(request, exception, status=404)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    return views.problem_page(request, exception, status=403)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    return views.problem_page(request, exception, status=400)


def handler500(request: HttpRequest) -> HttpResponse:
    return views.problem_page(request, status=500)
