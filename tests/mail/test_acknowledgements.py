"""Acknowledgement detection: a reply that only says thanks, in many languages, and the hard cases that are not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.mail.acknowledgements import ACK_THRESHOLD, AckVerdict, detect_acknowledgement, strip_pleasantries

# (new text, language of the thanks)
POSITIVES: list[tuple[str, str | None]] = [
    ("Thanks!", "en"),
    ("Thank you very much", "en"),
    ("thx", "en"),
    ("Perfect, thanks", "en"),
    ("Got it, thanks", "en"),
    ("ok thanks", "en"),
    ("Great, that worked!", "en"),
    ("Thanks for the quick reply.", "en"),
    ("Hi John,\n\nthanks a lot for your help!\n\nBest regards\nAnna Smith", "en"),
    ("Thank you, no worries.", "en"),
    ("Awesome, works now. Cheers", "en"),
    ("Much appreciated!", "en"),
    ("Thanks John", "en"),
    ("Danke!", "de"),
    ("Vielen Dank für die schnelle Hilfe.", "de"),
    ("Danke schön", "de"),
    ("Hallo Herr Müller,\nvielen Dank, hat funktioniert.\nViele Grüße\nPeter", "de"),
    ("Super, danke nochmal!", "de"),
    ("Merci", "fr"),
    ("Merci beaucoup pour votre aide !", "fr"),
    ("Bonjour,\nparfait, merci.\nCordialement\nMarie Dupont", "fr"),
    ("Gracias", "es"),
    ("Muchas gracias por la ayuda.", "es"),
    ("Grazie mille!", "it"),
    ("Perfetto, grazie", "it"),
    ("Bedankt!", "nl"),
    ("Dank je wel voor de snelle hulp", "nl"),
    ("Obrigado!", "pt"),
    ("Muito obrigada pela ajuda", "pt"),
    ("Dziękuję bardzo", "pl"),
    ("Tack så mycket!", "sv"),
    ("Tak for hjælpen", "da"),
    ("Takk!", "no"),
    ("Děkuji", "cs"),
    ("Спасибо большое!", "ru"),
    ("ありがとうございます。", "ja"),
    ("谢谢\uff01", "zh"),  # full-width exclamation mark
    ("\U0001f44d", None),
    ("OK.", None),
    ("Thanks \U0001f64f", "en"),
    ("Thank you!\r\n\r\n--\r\nJane Doe\r\nACME Corp", "en"),
]
NEGATIVES: list[str] = [
    "Thanks, but it still doesn't work",
    "Thanks. One more question: can I also change the delivery address",
    "Thanks! When will it arrive?",
    "Thank you. However the invoice is wrong.",
    "Thanks for the update, I will send the logs tomorrow",
    "Thank you, I will try that and get back to you",
    "Thanks, please also cancel order 4711",
    "Thanks, the error is back after the restart",
    "Thanks, that did not help",
    "OK, but the printer is still offline",
    "Great, now the second laptop needs the same fix",
    "Danke, aber es geht noch nicht",
    "Vielen Dank. Leider funktioniert es nicht.",
    "Danke, bitte schicken Sie mir noch die Rechnung",
    "Merci, mais ça ne marche pas",
    "Merci, j'ai toujours le même problème",
    "Gracias, pero sigue sin funcionar",
    "Gracias, no funciona",
    "Grazie, ma non funziona ancora",
    "Bedankt, maar het werkt nog steeds niet",
    "Obrigado, mas ainda não funciona",
    "Dziękuję, ale nadal nie działa",
    "Tack, men det fungerar inte",
    "Tak, men det virker stadig ikke",
    "Děkuji, ale pořád to nefunguje",
    "Спасибо, но ошибка осталась",
    "ありがとうございます。でも、まだエラーが出ます。",
    "谢谢\uff0c但是还是不行",  # full-width comma
    "The printer is on fire",
    "Hi,\n\nplease reset my password.\n\nBest regards\nAnna",
    "",
    "Best regards\nJohn",
    "Thank you for your message. Our office is closed until Monday and your request will be handled afterwards.",
    "Can you thank the technician for me",
]


def test_table_is_big_enough() -> None:
    """
    GIVEN the example table
    WHEN counted
    THEN it has at least 30 positives and 30 hard negatives, over at least 15 languages
    """
    assert len(POSITIVES) >= 30
    assert len(NEGATIVES) >= 30
    assert len({language for _, language in POSITIVES}) >= 15


@pytest.mark.parametrize(("text", "language"), POSITIVES)
def test_acknowledgements(text: str, language: str | None) -> None:
    """
    GIVEN new text that only thanks or acknowledges (greeting, closing and name allowed)
    WHEN it is classified
    THEN it is an acknowledgement in the expected language, with a score at or above the threshold
    """
    verdict = detect_acknowledgement(text)
    assert verdict.is_acknowledgement is True, verdict
    assert verdict.language == language
    assert verdict.score >= ACK_THRESHOLD


@pytest.mark.parametrize("text", NEGATIVES)
def test_not_acknowledgements(text: str) -> None:
    """
    GIVEN new text that thanks but adds a problem, question or request, or does not thank at all
    WHEN it is classified
    THEN it is not an acknowledgement, and the reason says why
    """
    verdict = detect_acknowledgement(text)
    assert verdict.is_acknowledgement is False, verdict
    assert verdict.score < ACK_THRESHOLD
    assert verdict.reason


def test_reasons_name_the_evidence() -> None:
    """
    GIVEN a question, a problem word and a plain thanks
    WHEN classified
    THEN the reasons mention the question mark, the problem word and the phrase
    """
    assert "question mark" in detect_acknowledgement("Thanks! Any update?").reason
    assert "'aber'" in detect_acknowledgement("Danke, aber nein").reason
    assert detect_acknowledgement("Obrigado, mas ainda não funciona").language == "pt"
    assert detect_acknowledgement("Thanks!") == AckVerdict(True, "en", "only 'thanks'", 1.0)


def test_strip_pleasantries() -> None:
    """
    GIVEN a reply with a greeting line, a closing and a name
    WHEN pleasantries are stripped
    THEN only the middle remains
    """
    assert strip_pleasantries("hi john,\n\nthanks a lot!\n\nkind regards\nanna") == "thanks a lot!"
    assert strip_pleasantries("Hallo Herr Müller, danke!") == "danke!"


def test_long_text_is_never_an_acknowledgement() -> None:
    """
    GIVEN a thanks followed by many harmless words
    WHEN classified
    THEN it is not an acknowledgement (too long to be only thanks)
    """
    assert detect_acknowledgement("Thanks " + "great " * 40).is_acknowledgement is False
    assert detect_acknowledgement("Thanks " + "x" * 10_000).is_acknowledgement is False


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=400))
def test_never_raises(text: str) -> None:
    """
    GIVEN arbitrary text
    WHEN classified
    THEN a verdict comes back with a score between 0 and 1
    """
    verdict = detect_acknowledgement(text)
    assert 0.0 <= verdict.score <= 1.0
