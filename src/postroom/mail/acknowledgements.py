"""Decide whether a reply's new text only thanks or acknowledges (so it need not reopen the ticket)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

# Hand-set weights; tuned on the table in tests/mail/test_acknowledgements.py, not learnt.
PHRASE_SCORE: Final = 1.0  # a thanks/acknowledgement phrase is present
LEFTOVER_PENALTY: Final = 0.15  # per word that is neither an acknowledgement nor filler ("John", "tomorrow")
PROBLEM_PENALTY: Final = 0.6  # per negation/problem/request word ("but", "still", "nicht", "pas", "please")
ACK_THRESHOLD: Final = 0.5  # score needed; with no problem word this allows at most three unexplained words
MAX_WORDS: Final = 30  # words (after greeting and closing are stripped) beyond which a text is never "just thanks"
MAX_TEXT_CHARS: Final = 5_000  # longer new text is never only thanks; not even read further
QUESTION_MARKS: Final = ("?", "\uff1f", "\u00bf")  # ASCII, full-width (CJK), inverted (Spanish)

ACK_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "en": ("thanks?", "thank you", "thank u", "thx", "tnx", "ty", "tyvm", "cheers", "much appreciated",
           "appreciate it", "got it", "that worked", "it works", "works now", "working now", "problem solved",
           "solved", "all good", "perfect", "great", "awesome", "excellent", "noted", "understood",
           "will do", "sounds good", "brilliant", "fantastic", "wonderful"),
    "de": ("danke", "danke sch[öo]n", "dankesch[öo]n", "vielen dank", "besten dank", "herzlichen dank",
           "tausend dank", "danke sehr", "alles klar", "perfekt", "passt", "hat funktioniert", "funktioniert jetzt",
           "klappt", "erledigt", "verstanden", "prima"),
    "fr": ("merci", "merci beaucoup", "mille mercis", "parfait", "[çc]a marche", "c'est bon", "d'accord",
           "bien re[çc]u", "entendu", "nickel", "g[ée]nial", "impeccable"),
    "es": ("gracias", "muchas gracias", "mil gracias", "perfecto", "genial", "vale", "de acuerdo", "funciona",
           "entendido", "recibido", "estupendo"),
    "it": ("grazie", "grazie mille", "perfetto", "ottimo", "va bene", "funziona", "ricevuto", "capito"),
    "nl": ("bedankt", "dank je", "dank je wel", "dankjewel", "dank u", "dank u wel", "prima", "het werkt",
           "begrepen", "ontvangen", "super bedankt"),
    "pt": ("obrigad[oa]", "muito obrigad[oa]", "valeu", "perfeito", "[óo]timo", "funcionou", "entendido",
           "recebido"),
    "pl": ("dzi[ęe]kuj[ęe]", "dzi[ęe]ki", "[śs]wietnie", "dzia[łl]a", "rozumiem"),
    "sv": ("tack", "tack s[åa] mycket", "tusen tack", "toppen", "det fungerar", "funkar"),
    "da": ("tak", "mange tak", "tusind tak", "det virker"),
    "no": ("takk", "tusen takk", "takk skal du ha", "det fungerer"),
    "cs": ("d[ěe]kuji", "d[ěe]kuju", "d[íi]ky", "funguje", "v[ýy]born[ěe]"),
    "ru": ("спасибо", "большое спасибо", "спасибо большое", "благодарю", "отлично", "понятно", "работает", "хорошо"),
    "ja": ("ありがとうございます", "ありがとうございました", "ありがとう", "了解しました", "承知しました",
           "助かりました"),
    "zh": ("谢谢", "謝謝", "多谢", "感谢", "感謝", "好的", "收到", "明白了"),
    "any": ("ok", "okay", "super", "top"),  # understood everywhere; they name no language
    "emoji": ("\U0001f44d", "\U0001f64f", "\U0001f44c", "\u2705"),  # thumbs up, folded hands, OK hand, check mark
}  # fmt: skip
LANGUAGE_NEUTRAL: Final = frozenset({"any", "emoji"})
# Phrases that contain a negation but are themselves polite acknowledgements; removed before problem words are read.
NEUTRAL_PHRASES: Final = (
    "no problem", "not a problem", "no worries", "no rush", "kein problem", "keine ursache", "pas de souci",
    "pas de probl[èe]me", "sin problema", "de nada", "nessun problema", "geen probleem", "sem problema",
    "nie ma problemu", "inga problem", "ingen problem", "без проблем", "noch ?mal", "noch einmal",
)  # fmt: skip
PROBLEM_WORDS: Final = (
    # en
    "but", "still", "not", "no", "doesn't", "don't", "didn't", "isn't", "wasn't", "won't", "can't", "cannot",
    "couldn't", "never", "error", "problem", "issue", "broken", "fail", "fails", "failed", "failing", "wrong",
    "however", "unfortunately", "please", "need", "question", "also", "another", "more", "could", "can", "would",
    "when", "how", "why", "what", "where", "which", "anymore",
    # de
    "aber", "noch", "nicht", "kein", "keine", "leider", "immer", "fehler", "jedoch", "trotzdem", "bitte",
    "brauche", "frage", "wann", "wie", "warum", "können", "könnten",
    # fr
    "mais", "pas", "toujours", "encore", "erreur", "problème", "malheureusement", "cependant", "question",
    "pourriez", "pouvez", "svp", "quand", "comment", "pourquoi",
    # es / pt / it
    "pero", "todavía", "aún", "sigue", "problema", "lamentablemente", "desafortunadamente", "pregunta",
    "podría", "puede", "mas", "ainda", "não", "erro", "infelizmente", "porém", "ma", "ancora", "non", "errore",
    "purtroppo", "però", "domanda", "potrebbe",
    # nl / sv / da / no
    "maar", "nog", "niet", "geen", "fout", "helaas", "vraag", "men", "fortfarande", "inte", "fel", "tyvärr",
    "ikke", "stadig", "fortsatt", "fejl", "feil", "desværre", "dessverre",
    # pl / cs / ru
    "ale", "jeszcze", "nadal", "nie", "błąd", "niestety", "pytanie", "proszę", "stále", "pořád", "nefunguje",
    "nejde", "chyba", "problém", "bohužel", "но", "ещё", "еще", "не", "нет", "ошибка", "проблема", "однако",
)  # fmt: skip
CJK_PROBLEM_WORDS: Final = (
    "でも",
    "しかし",
    "まだ",
    "ません",
    "ない",
    "エラー",
    "問題",
    "但",
    "还是",
    "仍然",
    "不",
    "没有",
    "错误",
    "问题",
    "可是",
)
_FILLER_BY_LANGUAGE: Final = (
    "a an the for your you u all it this that so very much many lot lots again really and to of my our we i me ",
    "help quick fast prompt reply response answer support info information update everything fine good now ",
    "guys team have nice day weekend is was has been just indeed sure too yes yeah yep kindly sir madam ",
    "für die den das der dem schnelle schnellen hilfe antwort rückmeldung es hat jetzt alles sehr ihnen dir ",
    "euch ja gut super top schönen tag wochenende auch ",
    "pour votre vos la le les et tout très aide réponse rapide oui bonne journée super tout ",
    "por su tu la el todo muy ayuda respuesta rápida sí buen día ",
    "per il la tutto molto aiuto risposta veloce sì buona giornata ",
    "voor de het je jullie alles erg hulp snelle antwoord ja fijne dag ",
    "pela pelo ajuda resposta rápida tudo sim bom dia ",
    "za pomoc odpowiedź bardzo wszystko tak ",
    "för hjälpen hjälp svar snabbt allt ja for hjælpen hjelpen svaret ",
    "za pomoc odpověď moc vše ",
    "за помощь ответ всё все да",
)
FILLER_WORDS: Final = frozenset(word for group in _FILLER_BY_LANGUAGE for word in group.split())
_GREETING: Final = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|liebe[rs]?|sehr geehrte[rs]?|guten "
    r"(?:tag|morgen|abend)|moin|servus|bonjour|bonsoir|salut|ch[èe]re?|hola|buen(?:os|as) (?:d[íi]as|tardes)|"
    r"estimad[oa]|ciao|salve|buongiorno|gentile|hoi|goedemorgen|goedemiddag|beste|ol[áa]|oi|bom dia|prezad[oa]|"
    r"dzie[ńn] dobry|witam|cze[śs][ćc]|hej|hejsan|hall[åa]|god morgen|dobr[ýy] den|ahoj|здравствуйте|привет|"
    r"добрый день|こんにちは|お世話になっております|你好|您好)(?:[ \t]+[\w.'-]+){0,3}[ \t]*(?:[,!:]|$)",
    re.I | re.M,
)
_CLOSING: Final = re.compile(
    r"^[ \t]*(?:(?:best|kind|warm|many) regards|regards|best wishes|best|br|sincerely|yours(?: truly)?|"
    r"mit freundlichen gr[üu](?:ß|ss)en|(?:freundliche|viele|beste|liebe) gr[üu](?:ß|ss)e|lg|vg|mfg|gru(?:ß|ss)|"
    r"(?:bien )?cordialement|bien [àa] vous|salutations|(?:un )?saludos?|atentamente|(?:cordiali |distinti )?saluti|"
    r"met vriendelijke groet(?:en)?|groet(?:en|jes)?|mvg|atenciosamente|abra[çc]os|cumprimentos|pozdrawiam|"
    r"z powa[żz]aniem|(?:med )?v[äa]nliga h[äa]lsningar|mvh|h[äa]lsningar|(?:med )?venlig hilsen|(?:med )?vennlig "
    r"hilsen|hilsen|s pozdravem|\u0441 уважением|всего доброго|よろしくお願い(?:いた)?します|此致|祝好|--)"
    r"[ \t]*[,.!]?[ \t]*$",
    re.I | re.M,
)
_NAME_LINE: Final = re.compile(r"^[ \t]*(?:[^\W\d_][\w.'-]*)(?:[ \t]+[^\W\d_][\w.'-]*){0,2}[ \t]*$")
_WORD: Final = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_CJK: Final = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\U0001f300-\U0001faff\u2700-\u27bf]")


@dataclass(frozen=True, slots=True)
class AckVerdict:
    """Whether the new text only acknowledges, the language of the thanks, the evidence, and the score."""

    is_acknowledgement: bool
    language: str | None  # ISO 639-1 code of the acknowledgement phrase; None when none (or only an emoji)
    reason: str
    score: float


def _alternation(fragments: list[str]) -> str:
    """One pattern for the fragments, tried in the given order: Latin-script ones only as whole words.

    The word boundaries are written once around all the bounded fragments rather than around each, so the
    engine rejects a position inside a word with one look-behind instead of one per phrase (the same matches:
    a fragment with CJK characters never starts where a bounded one does, so regrouping keeps the order).
    """
    cjk = [fragment for fragment in fragments if _CJK.search(fragment)]
    bounded = [fragment for fragment in fragments if not _CJK.search(fragment)]
    starts = "".join(sorted({char for fragment in bounded for char in _first_chars(fragment)}))
    parts = [rf"(?=[{starts}])(?<!\w)(?:{'|'.join(bounded)})(?!\w)"] if bounded else []
    return "|".join(parts + cjk)


def _first_chars(fragment: str) -> str:
    """The characters a fragment (a phrase, or an escaped word) can start with; "[öo]" gives both."""
    if fragment.startswith("["):
        chars = fragment[1 : fragment.index("]")]
    else:
        chars = fragment[1] if fragment.startswith("\\") else fragment[0]
        if fragment[len(chars) + fragment.startswith("\\") :][:1] in ("?", "*"):
            raise ValueError(f"phrase {fragment!r} has an optional first character")
    if not chars.isalnum():
        raise ValueError(f"phrase {fragment!r} does not start with a letter")
    return chars


_ACK_PATTERNS: Final = {
    language: re.compile(_alternation(sorted(phrases, key=len, reverse=True)))
    for language, phrases in ACK_PHRASES.items()
}
_NEUTRAL: Final = re.compile(_alternation(list(NEUTRAL_PHRASES)))
_PROBLEM: Final = re.compile(
    "|".join([_alternation([re.escape(word) for word in PROBLEM_WORDS]), *(re.escape(w) for w in CJK_PROBLEM_WORDS)])
)


def strip_pleasantries(text: str) -> str:
    """The text without a leading greeting ("Hi John,"), a closing ("Best regards") with what follows, or a
    trailing name line."""
    text = _GREETING.sub("", text, count=1) if _GREETING.match(text) else text
    closing = _CLOSING.search(text)
    if closing is not None and closing.start() > 0:
        text = text[: closing.start()]
    lines = [line for line in text.strip().split("\n") if line.strip()]
    if len(lines) > 1 and _NAME_LINE.match(lines[-1]) and not _ack_spans(lines[-1]):
        lines = lines[:-1]
    return "\n".join(lines).strip()


def _ack_spans(text: str) -> list[tuple[str, int, int]]:
    return [(lang, m.start(), m.end()) for lang, pattern in _ACK_PATTERNS.items() for m in pattern.finditer(text)]


def _count_words(text: str) -> int:
    return sum(max(1, len(word) // 2) if _CJK.search(word) else 1 for word in _WORD.findall(text))


def detect_acknowledgement(new_text: str) -> AckVerdict:
    """Classify a reply's new content (quotes and signature already removed) as a mere thanks, or not."""
    text = unicodedata.normalize("NFC", new_text[:MAX_TEXT_CHARS]).replace("\u2019", "'").replace("\r", "\n")
    if len(new_text) > MAX_TEXT_CHARS:
        return AckVerdict(False, None, "too long to be only thanks", 0.0)
    body = strip_pleasantries(text.lower())
    if any(mark in body for mark in QUESTION_MARKS):
        return AckVerdict(False, _language(body), "contains a question mark", 0.0)
    words = _count_words(body)
    if words > MAX_WORDS:
        return AckVerdict(False, _language(body), f"{words} words: longer than an acknowledgement", 0.0)
    spans = _ack_spans(body)
    if not spans:
        return AckVerdict(False, None, "no thanks or acknowledgement phrase", 0.0)
    language = _language(body)
    neutral = _NEUTRAL.sub(" ", body)
    problems = [match.group(0) for match in _PROBLEM.finditer(neutral)]
    remainder = _NEUTRAL.sub(" ", _remove_spans(body, spans))
    leftover = [word for word in _WORD.findall(remainder) if word not in FILLER_WORDS and word not in problems]
    leftover_count = _count_words(" ".join(leftover))
    score = max(0.0, PHRASE_SCORE - LEFTOVER_PENALTY * leftover_count - PROBLEM_PENALTY * len(problems))
    is_ack = score >= ACK_THRESHOLD
    first = min(spans, key=lambda span: span[1])
    phrase = body[first[1] : first[2]]
    if problems:
        reason = f"problem or request word {problems[0]!r} after {phrase!r}"
    elif leftover:
        reason = f"{phrase!r} with {leftover_count} other word(s): {' '.join(leftover[:5])}"
    else:
        reason = f"only {phrase!r}"
    return AckVerdict(is_ack, language, reason, round(score, 3))


def _remove_spans(text: str, spans: list[tuple[str, int, int]]) -> str:
    chars = list(text)
    for _, start, end in spans:
        chars[start:end] = [" "] * (end - start)
    return "".join(chars)


def _language(text: str) -> str | None:
    """The language whose acknowledgement phrases cover the most characters (emoji and "ok" carry none)."""
    covered: dict[str, int] = {}
    first: dict[str, int] = {}
    for language, start, end in _ack_spans(text):
        if language not in LANGUAGE_NEUTRAL:
            covered[language] = covered.get(language, 0) + end - start
            first[language] = min(first.get(language, start), start)
    # ties go to the phrase that comes first ("Obrigado ... funciona": Portuguese, not Spanish)
    return max(covered, key=lambda language: (covered[language], -first[language])) if covered else None
