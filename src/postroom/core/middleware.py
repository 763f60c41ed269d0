"""Refuse NUL characters in request input before any view sees them.

No database text column can hold U+0000 (PostgreSQL refuses it with an error, which a view would turn into a 500),
and no legitimate form field, query parameter or JSON string needs it. Checked here once for every page and
endpoint: the path, the query string, and JSON or URL-encoded bodies (multipart bodies are left alone: files may
contain NUL bytes, and reading them here would defeat the views' own size limits).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from django.http import HttpRequest, HttpResponse

NUL_MARKERS: Final = (b"\x00", b"%00", b"\\u0000")
DETAIL: Final = "The request contains a NUL character (U+0000), which no field accepts."


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _carries_nul(request):
            return _refusal(request)
        return self.get_response(request)


def _carries_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith(("application/json", "application/x-www-form-urlencoded")):
        return any(marker in request.body for marker in NUL_MARKERS)
    return False


def _refusal(request: HttpRequest) -> HttpResponse:
    """An RFC 9457 problem for the API, a plain 400 page otherwise."""
    if request.path.startswith("/api/"):
        body = {"type": "about:blank", "title": "Invalid request", "status": 400, "detail": DETAIL}
        return HttpResponse(json.dumps(body), status=400, content_type="application/problem+json")
    return HttpResponse(DETAIL, status=400, content_type="text/plain; charset=utf-8")
