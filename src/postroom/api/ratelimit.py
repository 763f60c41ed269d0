"""Per-token rate limits for the API: a fixed one-minute window per personal access token or signed-in user.

Applied to every operation as the API's throttle (postroom.api.urls), after authentication: each token has its own
budget (two scripts of one user do not starve each other), a console session counts against its user. The budget is
POSTROOM_API_RATE_LIMIT requests per minute (0: no limit). Over it the API answers 429 (RFC 6585, section 4) as an
RFC 9457 problem with Retry-After (RFC 9110, section 10.2.3): the seconds until the window ends.

Counters live in Django's cache (`cache.add` then `cache.incr`, atomic in the local-memory, Redis and Memcached
backends), so embedded mode needs nothing else; the default local-memory cache counts per process, so several web
processes each allow the full rate unless a shared cache is configured. A fixed window admits at most twice the rate
across a window boundary, which is the usual trade for one counter per client.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from ninja.errors import Throttled
from ninja.throttling import BaseThrottle

from postroom.accounts.models import ApiToken
from postroom.api.problems import problem_response

WINDOW_SECONDS: Final = 60  # POSTROOM_API_RATE_LIMIT is per minute
KEY_PREFIX: Final = "postroom:api-rate"

clock: Callable[[], float] = time.time  # the wall clock: windows are aligned to it (tests set a fixed one)


def find_client_key(request: HttpRequest) -> str | None:
    """Whose budget a request spends: its token, else its signed-in user; None for neither (never throttled here)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiToken):
        return f"token:{auth.prefix}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


class ApiRateThrottle(BaseThrottle):
    """django-ninja throttle: allow a request while its client's count in the current window is within the limit."""

    def __init__(self) -> None:
        self._local = threading.local()  # one instance serves every thread: the wait belongs to this request

    def allow_request(self, request: HttpRequest) -> bool:
        limit = int(settings.POSTROOM.api_rate_limit)
        client = find_client_key(request)
        if limit <= 0 or client is None:
            return True
        now = clock()
        window = int(now // WINDOW_SECONDS)
        key = f"{KEY_PREFIX}:{client}:{window}"
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr: this request opens the window again
            cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
            count = 1
        self._local.wait = (window + 1) * WINDOW_SECONDS - now
        return bool(count <= limit)

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


def on_throttled(request: HttpRequest, exc: object) -> HttpResponse:
    """The 429 problem for ninja's `Throttled`; Retry-After in whole seconds (ninja sets it from `wait()` too)."""
    seconds = exc.wait if isinstance(exc, Throttled) and exc.wait is not None else WINDOW_SECONDS
    wait = max(1, math.ceil(seconds))
    response = problem_response(
        429,
        "Too many requests",
        f"This token or user may make {settings.POSTROOM.api_rate_limit} requests a minute; retry in {wait} s.",
    )
    response["Retry-After"] = str(wait)
    return response
