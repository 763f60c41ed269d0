"""Permission-matrix case for the metrics endpoint: admins and auditors read it, every other role gets 403."""

from __future__ import annotations

from typing import Final

from matrix import ANONYMOUS, OWN, Case

from postroom.core.metrics import increment

READERS: Final = {
    "admin": (200,),
    "auditor": (200,),
    "queue_manager": (403,),
    "agent": (403,),
    "requester": (403,),
    ANONYMOUS: (401,),
}


def _metrics_url() -> str:
    increment("postroom_screened_total", {"cause": "loop"})
    return "/api/v1/metrics"


CASES: Final = (
    Case(
        "GET api:get_metrics",
        "GET",
        lambda t: _metrics_url(),
        READERS,
        (OWN,),
        markers=lambda t: ('postroom_screened_total{cause="loop"}',),
    ),
)
