"""Console pages (admin), included by postroom.urls at /admin/: queues and members, routes, mailboxes, users."""

from __future__ import annotations

from django.urls import URLPattern, path

from postroom.web import admin_mailbox_views, admin_user_views, admin_views, oauth_views, sender_list_views

urlpatterns: list[URLPattern] = [
    path("", admin_views.admin_home, name="admin-home"),
    path("queues/", admin_views.queue_list, name="admin-queue-list"),
    path("queues/new/", admin_views.queue_create, name="admin-queue-create"),
    path("queues/<int:pk>/", admin_views.queue_edit, name="admin-queue-edit"),
    path("queues/<int:pk>/delete/", admin_views.queue_delete, name="admin-queue-delete"),
    path("queues/<int:pk>/members/", admin_views.queue_members, name="admin-queue-members"),
    path("routes/", admin_views.route_list, name="admin-route-list"),
    path("routes/new/", admin_views.route_create, name="admin-route-create"),
    path("routes/<int:pk>/", admin_views.route_edit, name="admin-route-edit"),
    path("routes/<int:pk>/delete/", admin_views.route_delete, name="admin-route-delete"),
    path("mailboxes/", admin_mailbox_views.mailbox_list, name="admin-mailbox-list"),
    path("mailboxes/new/", admin_mailbox_views.mailbox_create, name="admin-mailbox-create"),
    path("mailboxes/<int:pk>/", admin_mailbox_views.mailbox_edit, name="admin-mailbox-edit"),
    path("mailboxes/<int:pk>/test/", admin_mailbox_views.mailbox_test, name="admin-mailbox-test"),
    path("mailboxes/<int:pk>/delete/", admin_mailbox_views.mailbox_delete, name="admin-mailbox-delete"),
    path("mailboxes/<int:pk>/oauth/", oauth_views.mailbox_oauth, name="admin-mailbox-oauth"),
    path("oauth/callback/", oauth_views.oauth_callback, name="admin-oauth-callback"),
    path("senders/", sender_list_views.sender_list, name="admin-sender-list"),
    path("senders/<int:pk>/delete/", sender_list_views.sender_delete, name="admin-sender-delete"),
    path("users/", admin_user_views.user_list, name="admin-user-list"),
    path("users/new/", admin_user_views.user_create, name="admin-user-create"),
    path("users/<int:pk>/", admin_user_views.user_edit, name="admin-user-edit"),
]
