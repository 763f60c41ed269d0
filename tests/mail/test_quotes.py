"""Reply splitting: new text, quoted history and signature, from plain text and from HTML."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.mail.quotes import ReplyParts, split_reply, split_reply_html
from postroom.mail.quotes.split import split_lines

ONE_MEGABYTE = 1024 * 1024


def test_english_attribution_starts_the_quoted_history() -> None:
    """
    GIVEN a reply above "On <date>, <name> wrote:" and ">" lines
    WHEN it is split
    THEN the new text is the reply and the quoted text starts with the attribution
    """
    parts = split_reply(
        "Thanks, that fixed it.\n\nOn Tue, Mar 12, 2024 at 10:15 AM, Support <s@example.com> wrote:\n> Hi"
    )
    assert parts == ReplyParts(
        new_text="Thanks, that fixed it.",
        quoted_text="On Tue, Mar 12, 2024 at 10:15 AM, Support <s@example.com> wrote:\n> Hi",
        signature="",
    )


@pytest.mark.parametrize(
    "attribution",
    [
        "Am 12.03.2024 um 10:15 schrieb Max Muster <max@example.de>:",
        "Le mar. 12 mars 2024 à 10:15, Jean <jean@example.fr> a écrit :",
        "El mar, 12 mar 2024 a las 10:15, Juan (<juan@example.es>) escribió:",
        "Op di 12 mrt 2024 om 10:15 schreef Jan <jan@example.nl>:",
        "Op 17-feb.-2015, om 13:18 heeft Jan <jan@example.nl> het volgende geschreven:",
        "wt., 12 mar 2024 o 10:15 Jan Kowalski <jan@example.pl> napisał(a):",
        "W dniu 28 stycznia 2015 01:53 użytkownik Zoe <zoe@example.pl> napisał:",
        "вт, 12 мар. 2024 г. в 10:15, Иван <ivan@example.ru>:",  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
        "суббота, 14 марта 2015 г. пользователь ivan написал:",  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
        "Den tis 12 mars 2024 kl 10:15 skrev Sven <sven@example.se>:",
        "Il giorno mar 12 mar 2024 alle ore 10:15 Mario <mario@example.it> ha scritto:",
        "Em ter., 12 de mar. de 2024 às 10:15, João <joao@example.pt> escreveu:",
        "2024年3月12日(火) 10:15 山田太郎 <taro@example.jp>:",
        "在 2024年3月12日，上午10:15，张三 <zhang@example.cn> 写道：",  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
        "Vào 14:24 8 tháng 6, 2017, Hùng <hung@example.vn> đã viết:",
        "2014-10-17 11:28 GMT+03:00 Postmaster <postmaster@example.com>:",
        "---- John Smith wrote ----",
    ],
)
def test_localised_attributions_are_recognised(attribution: str) -> None:
    """
    GIVEN a reply above an attribution line in one of many languages and clients
    WHEN it is split
    THEN only the reply is new text and the attribution opens the quoted text
    """
    parts = split_reply(f"Reply text\n\n{attribution}\n\n> quoted line\n")
    assert parts.new_text == "Reply text"
    assert parts.quoted_text.startswith(attribution.split(maxsplit=1)[0])
    assert parts.quoted_text.endswith("> quoted line")


@pytest.mark.parametrize(
    "attribution",
    [
        "On Fri, May 6, 2011 at 6:03 PM, Roman from Hacker News\n<roman@example.com> wrote:",
        "On Nov 30, 2011, at 12:47 PM, Somebody <\n416ffd3258d4d2fa@somebody.example.com>\nwrote:",
        'Le 4 janv. 2016 19:03, "Neil"\n<info@example.org>\na écrit :',
        "On Tue, Apr 11, 2017 at 10:07 PM John Smith\n\n<\nmailto:John Smith <js@example.com>\n> wrote:",
        "Max Muster <max@example.de> schrieb am Fr., 28.\nApr. 2017 um 11:53 Uhr:",
    ],
)
def test_attributions_wrapped_over_several_lines(attribution: str) -> None:
    """
    GIVEN an attribution wrapped over two to four lines (Gmail, Apple Mail, Polymail)
    WHEN the reply is split
    THEN every line of it is quoted history, none is left in the new text
    """
    parts = split_reply(f"Reply text\n{attribution}\n\n> quoted line")
    assert parts.new_text == "Reply text"
    assert "wrote" not in parts.new_text and "<" not in parts.new_text


def test_line_starting_with_on_is_not_an_attribution() -> None:
    """
    GIVEN prose lines that start with "On" or end with a colon but name no date or address
    WHEN the text is split
    THEN nothing is taken for quoted history
    """
    text = "On your remote host you can run:\n\n    telnet 127.0.0.1 52698\n\nOn this day I wrote something."
    assert split_reply(text) == ReplyParts(new_text=text, quoted_text="", signature="")


def test_reply_sharing_its_line_with_the_attribution() -> None:
    """
    GIVEN "reply On <date>, <address> wrote:" on one line (some clients do not break the line)
    WHEN it is split
    THEN the reply part of the line stays new text
    """
    parts = split_reply("reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Hi")
    assert parts.new_text == "reply"
    assert parts.quoted_text.startswith("On Wed, Apr 4, 2012")


@pytest.mark.parametrize(
    "header",
    [
        "From: Support <support@example.com>\nSent: Tuesday, March 12, 2024 10:15 AM\nTo: Jane\nSubject: Re: [#1]",
        "*From:* Support [mailto:support@example.com]\n*Sent:* Tuesday, March 12, 2024\n*To:* jane@example.com",
        "Von: Support <support@example.com>\nGesendet: Dienstag, 12. März 2024 10:15\nAn: Jane\nBetreff: Frage",
        "De : Support [mailto:support@example.com]\nEnvoyé : mardi 12 mars 2024 10:15\nÀ : Jane\nObjet : Question",
        "De: Soporte <soporte@example.com>\nEnviado: martes, 12 de marzo de 2024\nPara: Jane\nAsunto: Pregunta",
        "Från: Support [mailto:s@example.com]\nSkickat: den 26 augusti 2015 14:45\nTill: Jane\nÄmne: RE: Week 36",
        "От: Support\nОтправлено: четверг, 26 июня 2014 г. 15:05\nКому: Jane",  # noqa: RUF001 - multilingual patterns: the look-alike characters are meant
        "Date: Wed, 16 May 2012 00:15:02 -0600\nTo: jane@example.com",
    ],
)
def test_outlook_header_blocks_start_the_history(header: str) -> None:
    """
    GIVEN a reply above an Outlook-style header block (English or localised) and the unquoted original
    WHEN it is split
    THEN the header block and everything below it is quoted history
    """
    parts = split_reply(f"It works now.\n\n{header}\n\nOriginal text\n")
    assert parts.new_text == "It works now."
    assert parts.quoted_text.endswith("Original text")


@pytest.mark.parametrize(
    "separator",
    [
        "________________________________\nFrom: Support <s@example.com>\nSent: Tuesday",
        " ------------------------------\n\n*From:* Support\n*Sent:* 2016-01-27\n*To:* info@example.org",
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
    ],
)
def test_separators_and_original_message_markers(separator: str) -> None:
    """
    GIVEN a reply above an Outlook separator, an "Original Message" marker or a forwarded-message marker
    WHEN it is split
    THEN the marker and the message below it are quoted history
    """
    parts = split_reply(f"Fine by me.\n{separator}\n\nOlder message\n")
    assert parts.new_text == "Fine by me."
    assert parts.quoted_text.lstrip().startswith(separator.strip().split("\n")[0].strip())
    assert parts.quoted_text.endswith("Older message")


def test_message_that_is_only_a_forward_keeps_the_forwarded_body() -> None:
    """
    GIVEN a message that starts with a forwarded-message marker and its header block
    WHEN it is split
    THEN the header block is quoted and the forwarded body is the new text (nothing else was written)
    """
    text = "---------- Forwarded message ----------\nFrom: A <a@example.com>\nDate: Thu, Jan 28, 2016\n\nBody text."
    parts = split_reply(text)
    assert parts.new_text == "Body text."
    assert parts.quoted_text.startswith("---------- Forwarded message")


def test_trailing_quote_without_attribution_is_history_leading_one_is_context() -> None:
    """
    GIVEN one reply below a ">" quote (selective quoting) and one reply above a ">" quote
    WHEN both are split
    THEN the leading quote stays in the new text as context and the trailing quote is history
    """
    below = split_reply("> Can you reset my password?\n\nDone, check your inbox.")
    above = split_reply("Done, check your inbox.\n\n> Can you reset my password?")
    assert below.new_text == "> Can you reset my password?\n\nDone, check your inbox."
    assert above == ReplyParts(
        new_text="Done, check your inbox.", quoted_text="> Can you reset my password?", signature=""
    )


def test_reply_below_an_attributed_quote() -> None:
    """
    GIVEN an attributed quote at the top and the reply below it (bottom posting)
    WHEN it is split
    THEN the quote is history and the reply below is the new text
    """
    parts = split_reply("On 04/19/2011 07:10 AM, Roman wrote:\n\n> Test\nTest reply")
    assert parts == ReplyParts(
        new_text="Test reply", quoted_text="On 04/19/2011 07:10 AM, Roman wrote:\n\n> Test", signature=""
    )


def test_inline_answers_keep_their_quotes_as_context() -> None:
    """
    GIVEN answers written between ">" quoted questions (interleaved reply)
    WHEN it is split
    THEN the questions stay in the new text, only the trailing quote is history
    """
    text = (
        "On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n\n> Question one?\n\nAnswer one.\n\n"
        "> Question two?\n\nAnswer two.\n\n> Thanks\n"
    )
    parts = split_reply(text)
    assert parts.new_text.startswith("> Question one?")
    assert "Answer one." in parts.new_text
    assert parts.new_text.endswith("Answer two.")
    assert parts.quoted_text.endswith("> Thanks")


@pytest.mark.parametrize(
    "device",
    [
        "Sent from my iPhone",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Enviado desde mi Samsung Galaxy",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Sent from Mailbox for iPhone",
        "Verzonden met BlackBerry Work",
    ],
)
def test_mobile_signatures(device: str) -> None:
    """
    GIVEN a short reply followed by a mobile client's signature line
    WHEN it is split
    THEN that line is the signature, not new text
    """
    parts = split_reply(f"Yes, please go ahead.\n\n{device}")
    assert parts == ReplyParts(new_text="Yes, please go ahead.", quoted_text="", signature=device)


def test_sent_from_my_prose_is_not_a_signature() -> None:
    """
    GIVEN a sentence that happens to start with "Sent from my"
    WHEN it is split
    THEN it stays new text
    """
    text = "Here is another email\n\nSent from my desk, is much easier then my mobile phone."
    assert split_reply(text).new_text == text


@pytest.mark.parametrize(
    ("text", "signature"),
    [
        ("Works now.\n\n-- \nJane Doe\nACME Corp\n+1 555 123 4567", "--\nJane Doe\nACME Corp\n+1 555 123 4567"),
        ("Works now.\n\nBest regards,\nJane Doe", "Best regards,\nJane Doe"),
        ("Works now.\n\nMit freundlichen Grüßen\n\nMax Muster", "Mit freundlichen Grüßen\n\nMax Muster"),
        ("Works now.\n\n-Jane", "-Jane"),
        ("Works now.\n\nJane Doe\njane@example.com\n(555) 346-9947", "Jane Doe\njane@example.com\n(555) 346-9947"),
    ],
)
def test_signature_blocks(text: str, signature: str) -> None:
    """
    GIVEN a reply ending in a "-- " block, a sign-off, a dash and name, or a contact card
    WHEN it is split
    THEN that block is the signature and the rest is new text
    """
    assert split_reply(text) == ReplyParts(new_text="Works now.", quoted_text="", signature=signature)


def test_signature_never_takes_the_first_line() -> None:
    """
    GIVEN a body whose first line is a sign-off word
    WHEN it is split
    THEN the first line stays new text; the signature starts later
    """
    parts = split_reply("Thanks,\n\nBlah\n\nregards\n\nJohn Doe")
    assert parts == ReplyParts(new_text="Thanks,\n\nBlah", quoted_text="", signature="regards\n\nJohn Doe")


def test_code_block_spacers_are_not_signatures() -> None:
    """
    GIVEN a fenced code block with "####" and "#" lines near the end
    WHEN it is split
    THEN the code stays new text
    """
    text = "Look:\n\n```\n# comment\n####\ncode\n```\n\nEnd of the email."
    assert split_reply(text).new_text == text


def test_signature_before_the_quote_and_footer_after_it() -> None:
    """
    GIVEN a sign-off above an attributed quote and a "-- " block below it
    WHEN it is split
    THEN both are signature, the quote is history, and only the message is new text
    """
    text = (
        "This is the reply.\n\nThanks,\nSome One\n\n"
        "On Mon, Feb 1, 2016 at 6:32 PM, Jeff <info@example.org> wrote:\n\n> Hi\n\n--\nSome One\nManager"
    )
    parts = split_reply(text)
    assert parts.new_text == "This is the reply."
    assert parts.signature == "Thanks,\nSome One\n\n--\nSome One\nManager"
    assert parts.quoted_text.endswith("> Hi")


KNOWN = ("Kind regards,\nBob Agent\nACME Support | support@acme.test",)
OUR_QUOTED_REPLY = (
    "Hi Jane,\n\nPlease restart the router.\n\nKind regards,\nBob Agent\nACME Support | support@acme.test"
)


def test_known_signature_marks_our_quoted_reply_as_history() -> None:
    """
    GIVEN a reply whose client quoted our earlier message without any marker, ending in our agent's signature
    WHEN it is split with that signature known
    THEN our earlier message (from its greeting down to the signature) is quoted history, not the sender's text
    """
    parts = split_reply(f"Thanks, that worked!\n\nJane\n\n{OUR_QUOTED_REPLY}", known_signatures=KNOWN)
    assert parts.new_text == "Thanks, that worked!\n\nJane"
    assert parts.quoted_text == OUR_QUOTED_REPLY
    assert parts.signature == ""


def test_known_signature_matches_rewrapped_and_quoted_copies() -> None:
    """
    GIVEN our signature re-wrapped by the sender's client (different line breaks and spacing)
    WHEN the reply is split with the signature known
    THEN it is still recognised and our message is quoted history
    """
    rewrapped = "Hi Jane,\n\nPlease restart the router.\n\nKind regards, Bob Agent\nACME   Support |\nsupport@acme.test"
    parts = split_reply(f"Done.\n\n{rewrapped}", known_signatures=KNOWN)
    assert parts.new_text == "Done."
    assert parts.quoted_text.startswith("Hi Jane,")


def test_without_known_signature_our_unmarked_reply_stays_new_text() -> None:
    """
    GIVEN the same unmarked quote of our message
    WHEN it is split without known signatures
    THEN it cannot be told apart: it stays new text (our signature counts as the sender's)
    """
    parts = split_reply(f"Thanks, that worked!\n\nJane\n\n{OUR_QUOTED_REPLY}")
    assert "Please restart the router." in parts.new_text
    assert parts.quoted_text == ""


def test_known_signature_inside_a_quote_changes_nothing() -> None:
    """
    GIVEN our signature inside an already ">" quoted history
    WHEN the reply is split with it known
    THEN the result equals the split without it
    """
    quoted = "\n".join(f"> {line}" for line in OUR_QUOTED_REPLY.split("\n"))
    text = f"Thanks!\n\nOn Tue, Mar 12, 2024 at 10:15 AM, Bob <support@acme.test> wrote:\n{quoted}"
    assert split_reply(text, known_signatures=KNOWN) == split_reply(text)


def test_line_endings_are_normalised() -> None:
    """
    GIVEN a reply with CRLF line endings
    WHEN it is split
    THEN the parts hold plain newlines
    """
    parts = split_reply("Line one\r\nLine two\r\n\r\nOn 04/19/2011 07:10 AM, Roman wrote:\r\n> old\r\n")
    assert parts.new_text == "Line one\nLine two"
    assert "\r" not in parts.quoted_text


def test_reply_parts_are_immutable() -> None:
    """
    GIVEN a split result
    WHEN a field is assigned
    THEN the frozen dataclass refuses
    """
    parts = split_reply("Hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        parts.new_text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n\n",
        ">",
        "--",
        "On",
        "From:",
        "\x00\ue000\ue001\ue003",
        "```",
        "On Mon, 1 Jan 2024 <a@b.c> wrote:",
        "-----Original Message-----",
    ],
)
def test_degenerate_inputs_do_not_raise(text: str) -> None:
    """
    GIVEN empty, marker-only and control-character inputs
    WHEN they are split (by the inner splitter, which has no safety net)
    THEN a result comes back
    """
    assert isinstance(split_lines(text), ReplyParts)
    assert isinstance(split_reply_html(text), ReplyParts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["> ", ">", "On 1 Jan 2024, A <a@b.c> wrote:", "From: x", "Sent: 1 May 2020", "-- ", "___", "Thanks,", "\n"]
        )
        | st.text(max_size=20),
        max_size=40,
    )
)
def test_fuzzed_replies_do_not_raise(pieces: list[str]) -> None:
    """
    GIVEN arbitrary mixes of quote marks, attributions, headers, delimiters and text
    WHEN they are split by the inner splitter (no exception net)
    THEN a result comes back and every non-blank line of it was in the input
    """
    text = "\n".join(pieces)
    parts = split_lines(text)
    seen = {line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")}
    for part in (parts.new_text, parts.quoted_text, parts.signature):
        for line in part.split("\n"):
            assert not line.strip() or line.strip() in seen or any(line.strip() in s for s in seen)


@pytest.mark.parametrize(
    "unit",
    [
        "> On Thu, Apr 30, 2020 at 10:07 AM, x <x@example.com> wrote: ",
        "On Mon, 1 Jan 2024 at 10:00, X <x@y.z>\n",
        "a" * 1000,
        "From: a\n",
        "Hi\n>\n",
        "-- \n",
        "<" * 64,
        "On 1 " * 50 + "\n",
    ],
)
def test_one_megabyte_pathological_input_returns(unit: str) -> None:
    """
    GIVEN about 1 MB of repeated attribution-like, quote-like or unbroken text
    WHEN it is split (no catastrophic regex backtracking: the splitter is line-based and linear)
    THEN it returns a result
    """
    text = unit * (ONE_MEGABYTE // len(unit))
    parts = split_reply(text)
    assert len(parts.new_text) + len(parts.quoted_text) + len(parts.signature) > 0


def test_html_gmail_quote_is_history() -> None:
    """
    GIVEN a Gmail HTML reply with div.gmail_quote
    WHEN it is split
    THEN the reply is new text and the attribution with the quote is history
    """
    html = (
        '<div dir="ltr">Thanks, fixed!</div><div class="gmail_quote"><div class="gmail_attr">On Tue, Mar 12, 2024 '
        'at 10:15 AM Support &lt;s@example.com&gt; wrote:<br></div><blockquote class="gmail_quote">Please restart.'
        "</blockquote></div>"
    )
    parts = split_reply_html(html)
    assert parts.new_text == "Thanks, fixed!"
    assert parts.quoted_text.startswith("On Tue, Mar 12, 2024")
    assert parts.quoted_text.endswith("> Please restart.")


def test_html_outlook_reply_header_is_history() -> None:
    """
    GIVEN an Outlook HTML reply (#appendonsend, <hr>, #divRplyFwdMsg with From/Sent)
    WHEN it is split
    THEN only the reply is new text
    """
    html = (
        '<div>It works.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Support<br>'
        "<b>Sent:</b> Tuesday<br></div><div>Please restart.</div>"
    )
    parts = split_reply_html(html)
    assert parts.new_text == "It works."
    assert "Please restart." in parts.quoted_text


def test_html_cited_blockquote_is_history_text_below_it_is_new() -> None:
    """
    GIVEN an Apple/Thunderbird HTML reply: text, blockquote type=cite, more text below it
    WHEN it is split
    THEN the blockquote is history and both texts are new
    """
    parts = split_reply_html('<p>Top</p><blockquote type="cite">old text</blockquote><p>Answer below</p>')
    assert parts == ReplyParts(new_text="Top\n\nAnswer below", quoted_text="> old text", signature="")


def test_html_known_signature_and_sign_off() -> None:
    """
    GIVEN an HTML reply with a sign-off above a thunderbird attribution and blockquote
    WHEN it is split
    THEN the sign-off is the signature and the quote is history
    """
    html = (
        "<body>Hi. I am fine.<br><br>Thanks,<br>Alex<br><div class='moz-cite-prefix'>On 26.06.2014 14:41, "
        "Alexander wrote:<br></div><blockquote type='cite'><div>Hello! How are you?</div></blockquote></body>"
    )
    parts = split_reply_html(html)
    assert parts.new_text == "Hi. I am fine."
    assert parts.signature == "Thanks,\nAlex"
    assert parts.quoted_text.startswith("On 26.06.2014 14:41, Alexander wrote:")


def test_html_blockquote_only_message_is_kept() -> None:
    """
    GIVEN an HTML body that is nothing but one blockquote (no text before it)
    WHEN it is split
    THEN it is new text: nothing was written above a quote
    """
    parts = split_reply_html("<blockquote>Reply text</blockquote>")
    assert parts.new_text == "> Reply text"
    assert parts.quoted_text == ""
