"""Permission-matrix cases for the requester portal (/portal/).

The portal has its own sign-in (a one-time link by mail, kept under portal keys in the session): a console user of
any role, a Django user with the requester role and an anonymous visitor are all "not signed in to the portal".
They get the sign-in page (GET /portal/: 200, and its neutral answer to a POST), a redirect to it from every page
that would show a ticket (302 to /portal/; tests/portal checks the Location), and "not valid" (404) for a link
that is not one. Nobody in this matrix ever gets a ticket. What a signed-in requester sees is in tests/portal.
"""

from __future__ import annotations

from typing import Final

from matrix import OWN, Case, same

# The requester of both targets' mail (mailfactory's default sender): a known address.
KNOWN_ADDRESS: Final = "jane.doe@example.org"

CASES: Final = (
    Case("portal:sign-in", "GET", lambda t: "/portal/", same(200), targets=(OWN,)),
    # Six posts (one per role and the visitor) stay within the per-client limit of 20 an hour; the per-address limit
    # of 5 is passed by the sixth, which answers the same neutral page.
    Case("portal:sign-in", "POST", lambda t: "/portal/", same(200), targets=(OWN,), data={"email": KNOWN_ADDRESS}),
    Case("portal:link", "GET", lambda t: "/portal/link/not-a-token/", same(404), targets=(OWN,)),
    Case("portal:link", "POST", lambda t: "/portal/link/not-a-token/", same(404), targets=(OWN,)),
    Case("portal:sign-out", "POST", lambda t: "/portal/sign-out/", same(302), targets=(OWN,)),
    Case("portal:ticket-list", "GET", lambda t: "/portal/tickets/", same(302), targets=(OWN,)),
    Case("portal:ticket-detail", "GET", lambda t: f"/portal/tickets/{t.reference}/", same(302, 302)),
    Case(
        "portal:ticket-reply",
        "POST",
        lambda t: f"/portal/tickets/{t.reference}/reply/",
        same(302, 302),
        data={"text": "Any news?"},
    ),
    Case(
        "portal:attachment",
        "GET",
        lambda t: f"/portal/tickets/{t.reference}/attachments/{t.attachment_id}/",
        same(302, 302),
    ),
)
