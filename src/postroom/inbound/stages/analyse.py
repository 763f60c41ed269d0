"""Read what the message says: new content vs quoted history and signature, forward, automatic reply, thanks."""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, MessageReading, StageResult
from postroom.inbound.queries import list_own_signatures
from postroom.mail.acknowledgements import detect_acknowledgement
from postroom.mail.automation import AutomationKind, detect_automation
from postroom.mail.forwards import detect_forward
from postroom.mail.quotes import split_reply, split_reply_html

NAME: Final = "analyse"


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    signatures = list_own_signatures(ctx.tenant)
    # The plain-text part is what most clients quote reliably; HTML only when there is no text of our own making.
    if parsed.text.strip() or not parsed.html:
        reply = split_reply(parsed.text, known_signatures=signatures)
    else:
        reply = split_reply_html(parsed.html, known_signatures=signatures)
    reading = MessageReading(
        reply=reply,
        forward=detect_forward(parsed),
        # The automation screen classified it with what marks our own mail; without it (a stage list in a test),
        # the message alone.
        automatic=ctx.automation if ctx.automation is not None else detect_automation(parsed),
        acknowledgement=detect_acknowledgement(reply.new_text),
    )
    ctx.reading = reading
    notes = []
    if reading.automatic.is_automatic:
        notes.append(f"automatic: {reading.automatic.kind} ({reading.automatic.reason})")
    if reading.forward is not None:
        origin = reading.forward.from_.address if reading.forward.from_ else "unknown sender"
        notes.append(f"forwards a message from {origin}")
    if reading.acknowledgement.is_acknowledgement:
        notes.append(f"only thanks or acknowledges ({reading.acknowledgement.reason})")
    if reply.quoted_text:
        notes.append("quotes earlier mail")
    return StageResult(
        verdict="read",
        reason="; ".join(notes) or "new content only",
        data={
            "new_chars": len(reply.new_text),
            "quoted_chars": len(reply.quoted_text),
            "signature_chars": len(reply.signature),
            "automatic": None if reading.automatic.kind == AutomationKind.NORMAL else str(reading.automatic.kind),
            "forward": int(reading.forward is not None),
            "acknowledgement": int(reading.acknowledgement.is_acknowledgement),
        },
    )
