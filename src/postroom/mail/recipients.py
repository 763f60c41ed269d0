"""Which of our addresses a message was delivered to, in order of trust.

The envelope (SMTP RCPT TO) is what the sending server was told; Delivered-To and X-Original-To are what our
own MTA recorded (Postfix, Exim, Dovecot LDA); To and Cc are what the author wrote and may name aliases or
lists that expand to us.
"""

from __future__ import annotations

from dataclasses import dataclass

from postroom.mail.values import ParsedMessage


@dataclass(frozen=True, slots=True)
class RecipientCandidate:
    address: str  # normalised: lower case
    source: str  # "envelope", "delivered-to", "to", "cc"


def normalise_address(address: str) -> str:
    return address.strip().strip("<>").lower()


def strip_plus_tag(address: str) -> str:
    """`support+billing@example.com` -> `support@example.com` (sub-addressing, RFC 5233)."""
    local, at, domain = address.partition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}@{domain}"


def list_recipient_candidates(parsed: ParsedMessage, envelope_to: tuple[str, ...]) -> tuple[RecipientCandidate, ...]:
    seen: set[str] = set()
    out: list[RecipientCandidate] = []
    sources = (
        ("envelope", envelope_to),
        ("delivered-to", tuple(a.address for a in parsed.delivered_to)),
        ("to", tuple(a.address for a in parsed.to)),
        ("cc", tuple(a.address for a in parsed.cc)),
    )
    for source, addresses in sources:
        for raw in addresses:
            address = normalise_address(raw)
            if address and "@" in address and address not in seen:
                seen.add(address)
                out.append(RecipientCandidate(address=address, source=source))
    return tuple(out)
