"""DKIM verification (RFC 6376, RFC 8463 Ed25519) of every DKIM-Signature through dkimpy, keys via our Resolver."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

import dkim as dkimpy

from postroom.mail.auth.dkimkeys import (
    LIBRARY_FAILURES,
    MINIMUM_KEY_BITS,
    KeyLookups,
    KeyLookupTemporaryError,
    count_header_fields,
)
from postroom.mail.auth.resolver import Resolver

MAX_SIGNATURES: Final = 10  # a denial-of-service bound: RFC 6376 §6.1 lets verifiers limit the signatures checked
_TAG: Final = re.compile(rb"(?:^|;)\s*([a-z]+)\s*=\s*([^;]*)", re.I)


class DkimResult(enum.StrEnum):
    """RFC 8601 §2.7.1 result values for DKIM."""

    NONE = "none"
    PASS = "pass"  # noqa: S105 - a DKIM result, not a password
    FAIL = "fail"
    NEUTRAL = "neutral"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


@dataclass(frozen=True, slots=True)
class DkimSignatureVerdict:
    """One DKIM-Signature: who signed (d=, s=, a=), the result and why."""

    result: DkimResult
    domain: str  # d= (the SDID, RFC 6376 §3.5), lower case; "" when unreadable
    selector: str
    algorithm: str
    reason: str


def _tags(value: bytes) -> dict[bytes, bytes]:
    """d=, s=, a= of a signature for reporting, even when dkimpy rejects the header (folding removed)."""
    unfolded = re.sub(rb"\s+", b"", value)
    return {m.group(1).lower(): m.group(2) for m in _TAG.finditer(unfolded)}


def _verify_one(  # noqa: PLR0911 - one return per RFC 8601 outcome
    signer: dkimpy.DKIM, index: int, header_value: bytes, lookups: KeyLookups
) -> DkimSignatureVerdict:
    tags = _tags(header_value)
    domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
    selector = tags.get(b"s", b"").decode("ascii", "replace")
    algorithm = tags.get(b"a", b"").decode("ascii", "replace")

    def verdict(result: DkimResult, reason: str) -> DkimSignatureVerdict:
        return DkimSignatureVerdict(result, domain, selector, algorithm, reason)

    lookups.key_errors.clear()
    lookups.messages.clear()
    try:
        valid = signer.verify(idx=index, dnsfunc=lookups)
    except KeyLookupTemporaryError as e:
        return verdict(DkimResult.TEMPERROR, f"key lookup failed: {e}")
    except dkimpy.ValidationError as e:
        # dkimpy raises the same error for a malformed signature (permerror) and a changed body (fail)
        body_changed = str(e).startswith("body hash mismatch")
        return verdict(DkimResult.FAIL if body_changed else DkimResult.PERMERROR, str(e))
    except (dkimpy.MessageFormatError, dkimpy.KeyFormatError) as e:
        return verdict(DkimResult.PERMERROR, str(e))
    except LIBRARY_FAILURES as e:
        return verdict(DkimResult.PERMERROR, f"{type(e).__name__}: {e}")
    if valid:
        return verdict(DkimResult.PASS, f"good signature by {domain} (selector {selector})")
    if lookups.key_errors:
        return verdict(DkimResult.PERMERROR, lookups.key_errors[-1])
    return verdict(DkimResult.FAIL, lookups.last_reason("signature did not verify"))


def verify_dkim(
    raw: bytes, *, resolver: Resolver, minimum_key_bits: int = MINIMUM_KEY_BITS
) -> tuple[DkimSignatureVerdict, ...]:
    """Every DKIM-Signature of the message, top first; empty when there is none (DKIM result "none")."""
    lookups = KeyLookups(resolver)
    try:
        signer = dkimpy.DKIM(raw, logger=lookups.logger(), minkey=minimum_key_bits)
    except LIBRARY_FAILURES as e:
        count = min(count_header_fields(raw, b"dkim-signature"), MAX_SIGNATURES)
        unreadable = DkimSignatureVerdict(DkimResult.PERMERROR, "", "", "", f"header block unreadable: {e}"[:300])
        return (unreadable,) * count
    headers = [value for name, value in signer.headers if name.lower() == b"dkim-signature"]
    return tuple(_verify_one(signer, i, value, lookups) for i, value in enumerate(headers[:MAX_SIGNATURES]))
