"""Internal notes must not leak into public replies."""

from __future__ import annotations

from postroom.mail.leaks import find_note_leak

NOTE = "Customer is on the legacy plan; do not offer the discount, finance refused it twice already."


def test_a_pasted_sentence_from_a_note_is_found() -> None:
    """GIVEN a note WHEN a reply repeats six of its words in a row (other case, punctuation) THEN it is named."""
    reply = "Hello Jane,\n\nthe customer is ON the legacy plan, do not offer the discount -- sorry.\n"
    leak = find_note_leak(reply, [(7, NOTE)])
    assert leak is not None and leak.note_id == 7
    assert "legacy plan" in leak.excerpt


def test_shared_stock_phrases_are_not_a_leak() -> None:
    """GIVEN a note and a reply that share only short common phrases WHEN checked THEN no leak."""
    reply = "Hello Jane, you are on the legacy plan. We cannot offer a discount at the moment."
    assert find_note_leak(reply, [(7, NOTE)]) is None


def test_a_short_note_pasted_whole_is_a_leak() -> None:
    """GIVEN a five-word note WHEN the reply contains it verbatim THEN it is a leak; four unrelated words are not."""
    assert find_note_leak("FYI: vip customer, escalate fast please.", [(1, "VIP customer, escalate fast")]) is not None
    assert find_note_leak("Your VIP status is active.", [(1, "VIP customer, escalate fast")]) is None
