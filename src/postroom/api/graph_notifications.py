"""The URL Microsoft Graph posts change notifications to: unauthenticated by design, checked by clientState.

`POST /graph/notifications/<mailbox id>/`
- `?validationToken=...` (when a subscription is created): answer 200 with the token as text/plain, within Graph's
  10 seconds (learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation);
- otherwise a JSON `{"value": [notification, ...]}`: each notification's clientState must be the one the mailbox's
  subscription was created with (only its sha256 is stored). 202 when at least one is ours (the mailbox's reader is
  woken: postroom.connectors.graph_push), 403 when none is, 400 for a body that is not a notification, 404 for a
  mailbox without push. Nothing is fetched here: the reader's delta query does that, so the answer is quick.
"""

from __future__ import annotations

import json
from typing import Final

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from postroom.connectors.graph_push import PushNotConfiguredError, accept_notifications, is_push_configured

MAX_BODY_BYTES: Final = 1024 * 1024  # a notification batch is a few KB; Graph sends at most a few hundred items
MAX_TOKEN_CHARS: Final = 2048


def _answer_validation(mailbox_id: int, token: str) -> HttpResponse:
    """Echo the token Graph sent when creating a subscription (only for a mailbox that asked for push)."""
    if len(token) > MAX_TOKEN_CHARS:
        return HttpResponse("validation token too long", status=400, content_type="text/plain")
    if not is_push_configured(mailbox_id):
        return HttpResponse(status=404)
    return HttpResponse(token, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def graph_notification(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    token = request.GET.get("validationToken")
    if token is not None:
        return _answer_validation(mailbox_id, token)
    if len(request.body) > MAX_BODY_BYTES:
        return HttpResponse("notification too large", status=413, content_type="text/plain")
    try:
        accepted, _ = accept_notifications(mailbox_id, json.loads(request.body))
    except PushNotConfiguredError:
        return HttpResponse(status=404)
    except (ValueError, UnicodeDecodeError):
        return HttpResponse("not a change notification", status=400, content_type="text/plain")
    if not accepted:
        return HttpResponse("unknown subscription or clientState", status=403, content_type="text/plain")
    return HttpResponse(status=202)
