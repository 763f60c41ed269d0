"""The API's root: personal access tokens (`Authorization: Bearer pr_…`) or the console's session (with CSRF).

Roles apply as in the console (postroom.accounts.permissions): 404 for a ticket the user may not see, 403 for an
action a view-only role may not take and for requesters on every endpoint.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, Throttled, ValidationError
from ninja.security import django_auth

from postroom.api.auth import TokenAuth
from postroom.api.contacts import router as contacts_router
from postroom.api.mailboxes import router as mailboxes_router
from postroom.api.messages import router as messages_router
from postroom.api.metrics import router as metrics_router
from postroom.api.problems import problem_response
from postroom.api.quarantine import router as quarantine_router
from postroom.api.queues import router as queues_router
from postroom.api.ratelimit import ApiRateThrottle, on_throttled
from postroom.api.sender_lists import router as sender_lists_router
from postroom.api.tickets import router as tickets_router

api = NinjaAPI(
    title="Postroom API",
    version="1",
    auth=[TokenAuth(), django_auth],
    throttle=ApiRateThrottle(),  # every operation, per token or signed-in user (POSTROOM_API_RATE_LIMIT)
    urls_namespace="api",
)
api.add_exception_handler(Throttled, on_throttled)  # 429 as a problem, with Retry-After
api.add_router("/v1/tickets", tickets_router)  # schema at /api/openapi.json, docs at /api/docs
api.add_router("/v1/messages", messages_router)
api.add_router("/v1/quarantine", quarantine_router)
api.add_router("/v1/sender-lists", sender_lists_router)
api.add_router("/v1", queues_router)  # /v1/queues and /v1/routes
api.add_router("/v1/mailboxes", mailboxes_router)
api.add_router("/v1", contacts_router)  # /v1/contacts and /v1/organizations
api.add_router("/v1/metrics", metrics_router)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problem_response(422, "Invalid request", json.dumps(exc.errors, default=str)[:2000])


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(401, "Sign in first")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem_response(403, "Not allowed", str(exc) or "Your role does not allow this.")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(404, "Not found")
