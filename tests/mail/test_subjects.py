"""Subject normalisation for threading: prefixes and warning tags go, the topic and its case stay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.mail.subjects import detect_subject_prefix_kind, normalize_subject, subject_key

SUBJECTS = [
    # (subject as received, normalised, kind of the first prefix)
    ("Printer on floor 3 is broken", "Printer on floor 3 is broken", None),
    ("Re: Printer on floor 3 is broken", "Printer on floor 3 is broken", "reply"),
    ("RE: RE: Re: Printer", "Printer", "reply"),
    ("re: lower case", "lower case", "reply"),
    ("Re[2]: Invoice 2024-113", "Invoice 2024-113", "reply"),
    ("RE [3]: Invoice", "Invoice", "reply"),
    ("Re(3): Invoice", "Invoice", "reply"),
    ("Re^2: Invoice", "Invoice", "reply"),
    ("Re:Re:No spaces", "No spaces", "reply"),
    ("RE : Facture impayée", "Facture impayée", "reply"),
    ("AW: WG: Drucker defekt", "Drucker defekt", "reply"),
    ("WG: AW: Drucker defekt", "Drucker defekt", "forward"),
    ("Antwort: Lieferung", "Lieferung", "reply"),
    ("SV: Faktura", "Faktura", "reply"),
    ("VS: Lasku", "Lasku", "reply"),
    ("VL: Lasku", "Lasku", "forward"),
    ("Antw: Bestelling", "Bestelling", "reply"),
    ("Doorst: Bestelling", "Bestelling", "forward"),
    ("Odp: Faktura VAT", "Faktura VAT", "reply"),
    ("PD: Faktura VAT", "Faktura VAT", "forward"),
    ("R: Fattura", "Fattura", "reply"),
    ("Rif: Fattura", "Fattura", "reply"),
    ("I: Fattura", "Fattura", "forward"),
    ("RES: Pedido", "Pedido", "reply"),
    ("ENC: Pedido", "Pedido", "forward"),
    ("RV: Pedido", "Pedido", "forward"),
    ("TR: Réf: Commande", "Commande", "forward"),
    ("Ynt: Sipariş", "Sipariş", "reply"),
    ("İLT: Sipariş", "Sipariş", "forward"),
    ("Vá: Számla", "Számla", "reply"),
    ("Továbbítás: Számla", "Számla", "forward"),
    ("Přeposlat: Faktura", "Faktura", "forward"),
    ("Отв: Счёт", "Счёт", "reply"),
    ("Ответ: Счёт", "Счёт", "reply"),
    ("ΑΠ: Τιμολόγιο", "Τιμολόγιο", "reply"),
    ("תגובה: חשבונית", "חשבונית", "reply"),
    ("رد: فاتورة", "فاتورة", "reply"),
    ("답장: 청구서", "청구서", "reply"),
    ("전달: 청구서", "청구서", "forward"),
    ("回复：发票问题", "发票问题", "reply"),  # noqa: RUF001 - the full-width colon is the point
    ("答覆: 發票", "發票", "reply"),
    ("転送: 請求書", "請求書", "forward"),
    ("返信： 請求書", "請求書", "reply"),  # noqa: RUF001 - the full-width colon is the point
    ("Fwd: FW: Fw: chain", "chain", "forward"),
    ("[Fwd: Netscape style]", "Netscape style", "forward"),
    ("[EXTERNAL] RE: Printer", "Printer", "reply"),
    ("RE: [EXT] RE: Printer", "Printer", "reply"),
    ("[External Email] Printer", "Printer", None),
    ("[users] Re: Upgrade failed", "[users] Upgrade failed", "reply"),
    ("Re: [users] Upgrade failed", "[users] Upgrade failed", "reply"),
    ("Re: [PR-000123] Printer", "[PR-000123] Printer", "reply"),
    ("  Re:\t Printer   on\u00a0 floor  ", "Printer on floor", "reply"),
    ("Re:", "", "reply"),
    ("", "", None),
    # traps: words that only start like a prefix, and prefixes that are not at the front
    ("Reminder: meeting at 10", "Reminder: meeting at 10", None),
    ("Return policy", "Return policy", None),
    ("Trade show", "Trade show", None),
    ("Antwerp office", "Antwerp office", None),
    ("Enclosed: the contract", "Enclosed: the contract", None),
    ("Resume attached", "Resume attached", None),
    ("Invoice Re: March", "Invoice Re: March", None),
    ("Refund: order 55", "Refund: order 55", None),
    ("Rv-park booking", "Rv-park booking", None),
    ("[urgent] Server down", "[urgent] Server down", None),
]


@pytest.mark.parametrize(("subject", "normalized", "kind"), SUBJECTS)
def test_real_world_subjects(subject: str, normalized: str, kind: str | None) -> None:
    """GIVEN a subject as clients send it WHEN normalised THEN prefixes and warnings go, and the first kind is told."""
    assert normalize_subject(subject) == normalized
    assert detect_subject_prefix_kind(subject) == kind


def test_case_is_kept_but_the_key_ignores_it() -> None:
    """GIVEN two replies differing in case and width WHEN keyed THEN the keys match while normalised text differs."""
    assert normalize_subject("RE: Printer BROKEN") == "Printer BROKEN"
    assert subject_key("RE: Printer BROKEN") == subject_key("Fwd: printer broken") == "printer broken"
    assert subject_key("Ｐｒｉｎｔｅｒ") == subject_key("printer")  # noqa: RUF001 - full-width letters on purpose
    assert subject_key("Straße") == subject_key("STRASSE")


def test_a_pathological_run_of_prefixes_is_linear() -> None:
    """GIVEN a huge run of prefixes and tags WHEN normalised THEN all go, in linear time (this would hang otherwise)."""
    assert normalize_subject("Re: [EXT] " * 100_000 + "topic") == "topic"
    assert normalize_subject("[Fwd: " * 1000 + "topic" + "]" * 1000).startswith("[Fwd: ")


@given(st.text(max_size=300))
def test_normalize_never_raises_and_is_idempotent(subject: str) -> None:
    """GIVEN any text WHEN normalised twice THEN nothing raises and the second pass changes nothing."""
    once = normalize_subject(subject)
    assert normalize_subject(once) == once
    assert detect_subject_prefix_kind(subject) in (None, "reply", "forward")
    assert subject_key(subject) == subject_key(once)
