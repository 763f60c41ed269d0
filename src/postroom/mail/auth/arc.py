"""ARC chain validation (RFC 8617 §5.2) through dkimpy's ARC support, keys via our Resolver."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import dkim as dkimpy

from postroom.mail.auth.dkimkeys import (
    LIBRARY_FAILURES,
    MINIMUM_KEY_BITS,
    KeyLookups,
    KeyLookupTemporaryError,
    count_header_fields,
)
from postroom.mail.auth.resolver import Resolver


class ArcResult(enum.StrEnum):
    """RFC 8617 §4.4 chain validation status."""

    NONE = "none"
    PASS = "pass"  # noqa: S105 - an ARC result, not a password
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class ArcVerdict:
    """The chain's status, why, how many ARC sets it has, and who sealed them (newest first)."""

    result: ArcResult
    reason: str
    instances: int = 0
    sealers: tuple[str, ...] = ()  # d= of each ARC-Seal, newest first: the forwarders a policy may trust
    temporary: bool = False  # a key lookup timed out: "fail" here may become "pass" on retry


def validate_arc(raw: bytes, *, resolver: Resolver, minimum_key_bits: int = MINIMUM_KEY_BITS) -> ArcVerdict:
    """Validate the ARC chain; an ARC-Seal that itself says cv=fail ends the chain as fail (RFC 8617 §5.2)."""
    lookups = KeyLookups(resolver)
    try:
        arc = dkimpy.ARC(raw, logger=lookups.logger(), minkey=minimum_key_bits)
        status, sets, reason = arc.verify(dnsfunc=lookups)
    except KeyLookupTemporaryError as e:
        return ArcVerdict(ArcResult.FAIL, f"temporary DNS failure: {e}", temporary=True)
    except LIBRARY_FAILURES as e:
        if not count_header_fields(raw, b"arc-seal"):
            return ArcVerdict(ArcResult.NONE, "Message is not ARC signed")
        return ArcVerdict(ArcResult.FAIL, f"{type(e).__name__}: {e}"[:300])
    sealers = tuple(
        str(item.get("as-domain", b"").decode("ascii", "replace")).lower() for item in sets if isinstance(item, dict)
    )
    if status == dkimpy.CV_Pass:
        return ArcVerdict(ArcResult.PASS, str(reason), len(sets), sealers)
    if status == dkimpy.CV_None:
        return ArcVerdict(ArcResult.NONE, str(reason))
    if lookups.key_errors and "did not validate" in str(reason):
        reason = f"{reason}: {lookups.key_errors[-1]}"
    return ArcVerdict(ArcResult.FAIL, str(reason), len(sets), sealers)
