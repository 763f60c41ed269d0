"""URL configuration."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from postroom.api.graph_notifications import graph_notification
from postroom.api.urls import api
from postroom.web import message_views, ticket_list_views, ticket_views, views

urlpatterns = [
    path("api/", api.urls),
    path("login/", auth_views.LoginView.as_view(template_name="postroom/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", ticket_list_views.ticket_list, name="ticket-list"),
    path("bulk/", ticket_list_views.ticket_bulk, name="ticket-bulk"),
    path("views/", ticket_list_views.saved_view_create, name="saved-view-create"),
    path("views/<int:pk>/delete/", ticket_list_views.saved_view_delete, name="saved-view-delete"),
    path("queues/", ticket_list_views.queue_overview, name="queue-overview"),
    path("tickets/<str:reference>/", ticket_views.ticket_detail, name="ticket-detail"),
    path("tickets/<str:reference>/reply/", ticket_views.ticket_reply, name="ticket-reply"),
    path("tickets/<str:reference>/status/", ticket_views.ticket_status, name="ticket-status"),
    path("tickets/<str:reference>/assign/", ticket_views.ticket_assign, name="ticket-assign"),
    path("tickets/<str:reference>/fields/", ticket_views.ticket_fields, name="ticket-fields"),
    path("messages/<int:pk>/headers/", message_views.message_headers, name="message-headers"),
    path("messages/<int:pk>/html/", message_views.message_html, name="message-html"),
    path(
        "messages/<int:pk>/html/images/<int:attachment_pk>/",
        message_views.message_inline_image,
        name="message-inline-image",
    ),
    path("attachments/<int:pk>/", message_views.attachment_download, name="attachment-download"),
    path("inbound/", views.inbound_list, name="inbound-list"),
    path("inbound/<str:tracking_id>/", views.inbound_trace, name="inbound-trace"),
    path("quarantine/", include("postroom.web.urls_quarantine")),
    path("admin/", include("postroom.web.urls_admin")),
    path("portal/", include("postroom.portal.urls")),
    path("graph/notifications/<int:mailbox_id>/", graph_notification, name="graph-notification"),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    return views.problem_page(request, exception, status=404)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    return views.problem_page(request, exception, status=403)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    return views.problem_page(request, exception, status=400)


def handler500(request: HttpRequest) -> HttpResponse:
    return views.problem_page(request, status=500)
