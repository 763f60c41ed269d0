"""Console pages for a mailbox's OAuth sign-in: the consent page and the provider's callback.

The consent page shows how the mailbox signs in (provider, grant, when the token expires) and, for admins, a
button that sends them to the provider (authorization code with PKCE, RFC 7636) or, for app-only mailboxes, fetches
a client-credentials token now. `state` and the PKCE verifier stay in the admin's session (never in the URL the
provider sees, apart from the state itself); the callback accepts only a state this session started, once.
Admins act; auditors read the page; everyone else gets 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from postroom.accounts.admin_access import scope_to_tenant
from postroom.connectors.health import get_health
from postroom.connectors.oauth.config import OAuthConfig, build_oauth_config, has_oauth
from postroom.connectors.oauth.consent import complete_authorization, fetch_app_token, start_authorization
from postroom.connectors.oauth.errors import OAuthFailedError
from postroom.connectors.oauth.store import read_tokens
from postroom.mailboxes.models import Mailbox
from postroom.web.admin_views import admin_page, render_admin, require_admin, require_reader

PENDING_KEY: Final = "postroom_oauth_pending"  # session: state -> {mailbox, verifier, redirect_uri}
MAX_PENDING: Final = 5  # sign-ins started in one session and not finished; older ones are forgotten


def _mailbox(request: HttpRequest, pk: int) -> Mailbox:
    return get_object_or_404(scope_to_tenant(Mailbox.objects.all(), request.user), pk=pk)


def _page(
    request: HttpRequest, mailbox: Mailbox, *, problem: str = "", done: str = "", status: int = 200
) -> HttpResponse:
    config: OAuthConfig | None = None
    if has_oauth(mailbox):
        try:
            config = build_oauth_config(mailbox)
        except OAuthFailedError as e:
            problem = problem or str(e)
    tokens = read_tokens(mailbox.secrets)
    health = get_health(mailbox.pk)
    context: dict[str, Any] = {
        "mailbox": mailbox,
        "config": config,
        "signed_in": bool(tokens.refresh_token) or (config is not None and config.grant == "client_credentials"),
        "expires_at": health.token_expires_at if health else tokens.expires_at,
        "last_error": health.last_error if health and health.unhealthy_since else "",
        "problem": problem,
        "done": done,
        "section": "mailboxes",
    }
    return render_admin(request, "admin_mailbox_oauth.html", context, status=status)


@require_http_methods(["GET", "POST"])
@admin_page
def mailbox_oauth(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the page. POST (admins): go to the provider to sign in, or fetch an app-only token now."""
    require_reader(request)
    mailbox = _mailbox(request, pk)
    if request.method != "POST":
        done = "Signed in: the mailbox has its tokens." if request.GET.get("signed_in") else ""
        return _page(request, mailbox, done=done)
    require_admin(request)
    if not has_oauth(mailbox):
        return _page(request, mailbox, problem="This mailbox has no oauth settings.", status=409)
    try:
        if build_oauth_config(mailbox).grant == "client_credentials":
            expires_at = fetch_app_token(mailbox.pk)
            return _page(request, mailbox, done=f"Token fetched; it expires at {expires_at:%Y-%m-%d %H:%M} UTC.")
        started = start_authorization(mailbox, request.build_absolute_uri(reverse("admin-oauth-callback")))
    except OAuthFailedError as e:
        return _page(request, mailbox, problem=str(e), status=409)
    pending = dict(request.session.get(PENDING_KEY) or {})
    pending[started.state] = {
        "mailbox": mailbox.pk,
        "verifier": started.code_verifier,
        "redirect_uri": started.redirect_uri,
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }
    request.session[PENDING_KEY] = dict(sorted(pending.items(), key=lambda item: item[1]["at"])[-MAX_PENDING:])
    return redirect(started.url)


@admin_page
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the admin back: the state must be one this session started (RFC 6749 section
    10.12), then the code is traded for tokens with the PKCE verifier."""
    require_admin(request)
    pending = dict(request.session.get(PENDING_KEY) or {})
    started = pending.pop(request.GET.get("state", ""), None)
    request.session[PENDING_KEY] = pending
    if started is None:
        return _refusal(request, "This sign-in was not started from this browser session (unknown state): start again.")
    mailbox = _mailbox(request, int(started["mailbox"]))
    if request.GET.get("error"):
        said = " ".join(request.GET.get("error_description", "").split())[:300]
        problem = f"The provider refused the sign-in: {request.GET['error']}{': ' + said if said else ''}"
        return _page(request, mailbox, problem=problem, status=400)
    code = request.GET.get("code", "")
    if not code:
        return _page(request, mailbox, problem="The provider sent no authorization code.", status=400)
    try:
        complete_authorization(mailbox.pk, code, started["verifier"], started["redirect_uri"])
    except OAuthFailedError as e:
        return _page(request, mailbox, problem=str(e), status=400)
    return redirect(reverse("admin-mailbox-oauth", args=[mailbox.pk]) + "?signed_in=1")


def _refusal(request: HttpRequest, problem: str) -> HttpResponse:
    return render_admin(
        request, "admin_mailbox_oauth.html", {"mailbox": None, "problem": problem, "section": "mailboxes"}, status=400
    )
