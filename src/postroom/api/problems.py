"""RFC 9457 problem details: every API error is `application/problem+json` with a type, title and detail."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse


def problem_response(status: int, title: str, detail: str = "", **extra: Any) -> HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status, **({"detail": detail} if detail else {}), **extra}
    return HttpResponse(json.dumps(body, cls=DjangoJSONEncoder), status=status, content_type="application/problem+json")
