"""The portal sign-in, kept in Django's session under keys of its own, apart from the console's authentication.

A portal sign-in never sets `request.user` (so it opens no console page or API endpoint), and a console sign-in
sets no portal key (so it opens no portal page). Signing in rotates the session key (no session fixation); the
sign-in ends after POSTROOM_PORTAL_SESSION_HOURS, counted from the moment the link was used.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.http import HttpRequest

from postroom.tickets.models import Contact

CONTACT_KEY: Final = "postroom.portal.contact_id"
SIGNED_IN_AT_KEY: Final = "postroom.portal.signed_in_at"  # seconds since the epoch (sessions are JSON)


def start_portal_session(request: HttpRequest, contact: Contact, now: dt.datetime) -> None:
    request.session.cycle_key()
    request.session[CONTACT_KEY] = contact.pk
    request.session[SIGNED_IN_AT_KEY] = int(now.timestamp())


def end_portal_session(request: HttpRequest) -> None:
    """Forget the portal sign-in only (a console sign-in in the same browser stays) and rotate the key."""
    request.session.pop(CONTACT_KEY, None)
    request.session.pop(SIGNED_IN_AT_KEY, None)
    request.session.cycle_key()


def find_portal_contact(request: HttpRequest, now: dt.datetime, lifetime: dt.timedelta) -> Contact | None:
    """The signed-in requester, or None (never signed in, expired, or the contact is gone)."""
    contact_id = request.session.get(CONTACT_KEY)
    signed_in_at = request.session.get(SIGNED_IN_AT_KEY)
    if not isinstance(contact_id, int) or not isinstance(signed_in_at, int):
        return None
    if now.timestamp() - signed_in_at > lifetime.total_seconds():
        end_portal_session(request)
        return None
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        end_portal_session(request)
    return contact
