"""When to try a deferred message again: capped exponential backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

# Postfix retries a deferred message after 300 s at first and at most every 4000 s (minimal_backoff_time,
# maximal_backoff_time); a submission server of our own customer deserves a quicker first retry.
RETRY_BASE_SECONDS: Final = 60.0
RETRY_CAP_SECONDS: Final = 3600.0


def next_retry_delay(
    attempt: int,
    *,
    rand: Callable[[], float] = random.random,
    base_seconds: float = RETRY_BASE_SECONDS,
    cap_seconds: float = RETRY_CAP_SECONDS,
) -> float:
    """Seconds to wait before the next try, after `attempt` failed tries (1 after the first failure).

    The ceiling doubles per attempt from `base_seconds` up to `cap_seconds`; the delay is drawn uniformly
    from the upper half of it ("equal jitter"), so retries of many messages deferred together spread out
    but none comes back sooner than half the ceiling. `rand` returns a float in [0, 1): inject a fixed one
    in tests. Giving up (e.g. after five days, Postfix's maximal_queue_lifetime) is the caller's decision.
    """
    if attempt < 1:
        raise ValueError("attempt counts failed tries and starts at 1")
    ceiling = min(cap_seconds, base_seconds * 2.0 ** min(attempt - 1, 62))
    return ceiling / 2.0 + rand() * ceiling / 2.0
