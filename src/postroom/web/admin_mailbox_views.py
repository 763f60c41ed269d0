"""Console admin pages for mailboxes: the list with health, the settings form (secrets write-only), "Test
connection" with its report, delete. Admins change and test; auditors read; everyone else gets 403."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from postroom.accounts.admin_access import can_change_admin, get_acting_tenant, scope_to_tenant
from postroom.connectors.health_report import get_full_health
from postroom.connectors.mailbox_test import run_connection_test
from postroom.inbound.mailbox_removal import MailboxInUseError, delete_mailbox
from postroom.mailboxes.connector_settings import describe_secrets, find_secret_names
from postroom.mailboxes.models import Mailbox
from postroom.mailboxes.services import save_mailbox
from postroom.web.admin_forms import add_service_errors
from postroom.web.admin_mailbox_form import MailboxForm, build_initial, error_aliases
from postroom.web.admin_views import admin_page, render_admin, require_admin, require_reader


def _mailboxes(request: HttpRequest) -> Any:
    return scope_to_tenant(Mailbox.objects.select_related("default_queue"), request.user)


@admin_page
def mailbox_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    rows = [(mailbox, get_full_health(mailbox)) for mailbox in _mailboxes(request).order_by("name")]
    return render_admin(request, "admin_mailbox_list.html", {"rows": rows, "section": "mailboxes"})


def _initial(mailbox: Mailbox) -> dict[str, Any]:
    if mailbox.pk is None:
        return {"kind": "imap", "is_active": True}
    return {
        "name": mailbox.name,
        "address": mailbox.address,
        "kind": mailbox.kind,
        "default_queue": mailbox.default_queue,
        "is_active": mailbox.is_active,
        **build_initial(mailbox.kind, mailbox.settings),
    }


def _mailbox_page(request: HttpRequest, mailbox: Mailbox, *, creating: bool, refusal: str = "") -> HttpResponse:
    form = MailboxForm(
        request.POST if request.method == "POST" and not refusal else None,
        initial=_initial(mailbox),
        tenant_id=mailbox.tenant_id,
    )
    if request.method == "POST" and not refusal:
        require_admin(request)
        if form.is_valid():
            data = form.cleaned_data
            mailbox.name, mailbox.address, mailbox.kind = data["name"], data["address"], data["kind"]
            mailbox.default_queue, mailbox.is_active = data["default_queue"], data["is_active"]
            mailbox.settings = form.build_settings(existing=mailbox.settings)
            try:
                save_mailbox(mailbox, form.build_secret_changes())
            except ValidationError as e:
                add_service_errors(form, e, error_aliases(mailbox.kind))
            else:
                return redirect("admin-mailbox-edit", pk=mailbox.pk)
    if not can_change_admin(request.user):
        for field in form.fields.values():
            field.disabled = True
    stored = Mailbox.objects.filter(pk=mailbox.pk).first() if mailbox.pk else None
    context = {
        "form": form,
        "mailbox": stored or mailbox,
        "creating": creating,
        "secrets": describe_secrets(find_secret_names(stored.kind, stored.settings), stored.secrets) if stored else {},
        "health": get_full_health(stored) if stored else None,
        "report": stored.last_test_report if stored and stored.last_test_at else None,
        "refusal": refusal,
        "section": "mailboxes",
    }
    status = 409 if refusal else 422 if form.errors else 200
    return render_admin(request, "admin_mailbox_form.html", context, status=status)


@admin_page
def mailbox_create(request: HttpRequest) -> HttpResponse:
    require_admin(request)
    return _mailbox_page(request, Mailbox(tenant=get_acting_tenant(request.user)), creating=True)


@admin_page
def mailbox_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_reader(request)
    return _mailbox_page(request, get_object_or_404(_mailboxes(request), pk=pk), creating=False)


@require_POST
@admin_page
def mailbox_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Run the connection test now; the mailbox page shows its report (kept as the mailbox's last test)."""
    require_admin(request)
    run_connection_test(get_object_or_404(_mailboxes(request), pk=pk))
    return redirect("admin-mailbox-edit", pk=pk)


@require_POST
@admin_page
def mailbox_delete(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request)
    mailbox = get_object_or_404(_mailboxes(request), pk=pk)
    try:
        delete_mailbox(mailbox)
    except MailboxInUseError as e:
        return _mailbox_page(request, mailbox, creating=False, refusal=str(e))
    return redirect("admin-mailbox-list")
