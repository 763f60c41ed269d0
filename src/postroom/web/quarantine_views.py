"""Console pages for quarantined mail: the review list, one message (trace and header fields), release, delete,
allow the sender (allow-list its address and release).

Quarantined mail belongs to no queue: admins and auditors open these pages, only admins release or delete
(auditors get 403 on the actions); queue managers, agents and requesters get 403 on every page.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from postroom.accounts.permissions import can_admin, can_view_unfiled_mail, get_access
from postroom.inbound import quarantine
from postroom.inbound.models import InboundMessage, InboundStatus, QuarantineCause
from postroom.web.views import console_view

PAGE_SIZE = quarantine.PAGE_SIZE  # rows per page of the list (a module constant so tests can page with fewer)


def _viewer_tenant(request: HttpRequest) -> int | None:
    if not can_view_unfiled_mail(request.user):
        raise PermissionDenied
    return get_access(request.user).tenant_id


def _get_row(request: HttpRequest, tracking_id: str) -> InboundMessage:
    row = quarantine.find_quarantined(_viewer_tenant(request), tracking_id)
    if row is None:
        raise Http404("no quarantined message with this tracking id")
    return row


def _parse_day(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@console_view
def quarantine_list(request: HttpRequest) -> HttpResponse:
    tenant_id = _viewer_tenant(request)
    state = request.GET.get("state", quarantine.QuarantineState.QUARANTINED)
    if state not in quarantine.QuarantineState.ALL:
        state = quarantine.QuarantineState.QUARANTINED
    filters = quarantine.QuarantineFilter(
        state=state,
        cause=request.GET.get("cause", ""),
        sender=request.GET.get("sender", "").strip(),
        since=_parse_day(request.GET.get("since", "")),
        until=_parse_day(request.GET.get("until", "")),
    )
    try:
        after = quarantine.parse_cursor(request.GET["after"]) if request.GET.get("after") else None
    except ValueError:
        after = None  # a mangled link starts from the newest
    page = quarantine.list_quarantined(tenant_id, filters, after=after, limit=PAGE_SIZE)
    rows = [(row, quarantine.describe_cause(row.cause) if row.cause else "") for row in page.rows]
    others: dict[str, str] = {key: str(value) for key, value in request.GET.items() if key != "after"}
    older = f"?{urlencode({**others, 'after': page.next_cursor})}" if page.next_cursor else ""
    return render(
        request,
        "postroom/quarantine_list.html",
        {
            "rows": rows,
            "filters": filters,
            # Failed mail (too many attempts) is not quarantined: `postroom replay` retries it.
            "causes": [choice for choice in QuarantineCause.choices if choice[0] != QuarantineCause.TOO_MANY_ATTEMPTS],
            "states": quarantine.QuarantineState.ALL,
            "older_url": older,
            "newest_url": f"?{urlencode(others)}" if after is not None else "",
            "retention_days": settings.POSTROOM.quarantine_retention_days,
        },
    )


def _render_detail(request: HttpRequest, row: InboundMessage, *, error: str = "", status: int = 200) -> HttpResponse:
    refusal = quarantine.find_release_refusal(row)
    return render(
        request,
        "postroom/quarantine_detail.html",
        {
            "row": row,
            "cause_text": quarantine.describe_cause(row.cause) if row.cause else "",
            "released_causes": [quarantine.describe_cause(cause) for cause in row.released_causes or []],
            "headers": quarantine.read_header_view(row),
            "can_act": can_admin(request.user),
            "is_quarantined": row.status == InboundStatus.QUARANTINED,
            "release_refusal": refusal,
            "sender_address": quarantine.find_sender_address(row) if refusal is None else "",
            "error": error,
        },
        status=status,
    )


@console_view
def quarantine_detail(request: HttpRequest, tracking_id: str) -> HttpResponse:
    return _render_detail(request, _get_row(request, tracking_id))


def _actor(request: HttpRequest) -> quarantine.Actor:
    user = request.user
    if not can_admin(user) or not isinstance(user, User):
        raise PermissionDenied
    return quarantine.Actor.of(user)


@require_POST
@console_view
def quarantine_release(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Release and run the pipeline again; the detail page then shows where the message went."""
    row = _get_row(request, tracking_id)
    actor = _actor(request)
    try:
        quarantine.release_message(row.pk, actor)
    except quarantine.QuarantineConflictError as e:
        return _render_detail(request, row, error=str(e), status=409)
    return redirect("quarantine-detail", tracking_id=row.tracking_id)


@require_POST
@console_view
def quarantine_delete(request: HttpRequest, tracking_id: str) -> HttpResponse:
    row = _get_row(request, tracking_id)
    actor = _actor(request)
    try:
        quarantine.delete_message(row.pk, actor)
    except quarantine.QuarantineConflictError as e:
        return _render_detail(request, row, error=str(e), status=409)
    return redirect("quarantine-detail", tracking_id=row.tracking_id)


@require_POST
@console_view
def quarantine_allow_sender(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Allow-list the sender (every mailbox, or `mailbox_only`) and release; back to the detail page."""
    row = _get_row(request, tracking_id)
    actor = _actor(request)
    try:
        quarantine.allow_sender(
            row.pk,
            actor,
            mailbox_only=request.POST.get("mailbox_only") == "on",
            skip_auth=request.POST.get("skip_auth") == "on",
        )
    except quarantine.QuarantineConflictError as e:
        return _render_detail(request, row, error=str(e), status=409)
    return redirect("quarantine-detail", tracking_id=row.tracking_id)
