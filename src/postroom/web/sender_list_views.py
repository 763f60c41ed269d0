"""Console admin page for the allow and block lists: the entries, a form to add one, a button to remove one.

Admins change; auditors see the page read-only; queue managers, agents and requesters get 403 (as on the other
admin pages, docs/architecture/admin.md). How the lists work: docs/architecture/spam.md.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from postroom.accounts.admin_access import can_change_admin, get_acting_tenant, scope_to_tenant
from postroom.inbound.models import SenderListEntry
from postroom.inbound.sender_list_admin import PATTERN_HELP, save_entry
from postroom.mailboxes.models import Mailbox
from postroom.web.admin_forms import add_service_errors
from postroom.web.admin_views import admin_page, render_admin, require_admin, require_reader


class SenderEntryForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SenderListEntry
        fields = ["pattern", "kind", "mailbox", "skip_auth", "note"]
        labels = {
            "pattern": "Address or domain",
            "mailbox": "Only for mail from this mailbox",
            "skip_auth": "Allow even when sender authentication fails",
        }
        help_texts = {"pattern": PATTERN_HELP.removeprefix("must be ").capitalize() + "."}

    def __init__(self, *args: Any, tenant_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mailbox"].queryset = Mailbox.objects.filter(tenant_id=tenant_id).order_by("name")  # type: ignore[attr-defined]
        self.fields["mailbox"].empty_label = "every mailbox"  # type: ignore[attr-defined]


def _entries(request: HttpRequest) -> Any:
    return scope_to_tenant(SenderListEntry.objects.select_related("mailbox", "created_by"), request.user)


@admin_page
def sender_list(request: HttpRequest) -> HttpResponse:
    """GET: the entries and (for admins) the form; POST: add an entry (admins only)."""
    require_reader(request)
    tenant = get_acting_tenant(request.user)
    entry = SenderListEntry(tenant=tenant)
    form = SenderEntryForm(request.POST or None, instance=entry, tenant_id=tenant.pk)
    if request.method == "POST":
        require_admin(request)
        if form.is_valid():
            entry = form.save(commit=False)
            entry.created_by = request.user if isinstance(request.user, User) else None
            try:
                save_entry(entry)
            except ValidationError as e:
                add_service_errors(form, e, {"mailbox_id": "mailbox"})
            else:
                return redirect("admin-sender-list")
    if not can_change_admin(request.user):
        for field in form.fields.values():
            field.disabled = True
    entries = _entries(request).order_by("kind", "pattern", "id")
    context = {"form": form, "entries": entries, "section": "senders"}
    return render_admin(request, "admin_sender_list.html", context, status=422 if form.errors else 200)


@require_POST
@admin_page
def sender_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request)
    get_object_or_404(_entries(request), pk=pk).delete()
    return redirect("admin-sender-list")
