"""HTML to text: the layout walk (block lines, lists, tables, <pre>, hidden elements) and its inscriptis fallback."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from postroom.mail.parse.htmllayout import Declined, layout_tree
from postroom.mail.parse.htmltext import html_to_text, html_to_text_inscriptis, render_html


def test_block_elements_are_lines_and_paragraphs_are_apart() -> None:
    """
    GIVEN headings, paragraphs, divs, a blockquote, a section and a <br>
    WHEN converted
    THEN each block is on its own line, paragraphs and headings have a blank line around, <br> breaks the line
    """
    html = (
        "<h1>Title</h1><p>First <b>para</b>graph.</p><p>Second</p><div>one</div><div>two<br>three</div>"
        "<blockquote>quoted</blockquote><section>sec</section>after"
    )
    assert html_to_text(html) == "Title\n\nFirst paragraph.\n\nSecond\n\none\ntwo\nthree\nquoted\nsec\nafter"


def test_white_space_is_collapsed_and_entities_decoded() -> None:
    """
    GIVEN text with runs of spaces, tabs and line breaks across inline elements, entities and &nbsp;
    WHEN converted
    THEN white space is one space, no markup or entity is left, and &nbsp; is a plain space
    """
    html = "<p>  Gr&uuml;&szlig;e,\n\t<span>dear</span>   <i>Ms</i>&nbsp;Smith &amp; co &lt;3  </p>"
    assert html_to_text(html) == "Grüße, dear Ms Smith & co <3"


def test_lists_have_bullets_numbers_and_indentation() -> None:
    """
    GIVEN a bulleted list with a nested list, and numbered lists with start and value attributes
    WHEN converted
    THEN items carry inscriptis's bullets ("* ", then "+ " one level down) and numbers, indented by list depth
    """
    html = (
        "<ul><li>one</li><li>two<ul><li>sub</li></ul></li></ul>"
        "<ol><li>first</li><li>second</li></ol><ol start=7><li>seventh</li><li value=10>tenth</li></ol>"
    )
    assert html_to_text(html) == ("  * one\n  * two\n      + sub\n 1. first\n 2. second\n 7. seventh\n10. tenth")


def test_table_cells_are_columns_and_rows_are_lines() -> None:
    """
    GIVEN a table of two rows, one cell right-aligned, and a row whose cells hold two lines
    WHEN converted
    THEN cells are separated by two spaces in aligned columns, each row on its own lines
    """
    html = (
        "<table><tr><th>Item</th><th align=right>Price</th></tr>"
        "<tr><td>Headset</td><td align=right>3.90</td></tr>"
        "<tr><td>Cable<br>2 m</td><td valign=top>1.50</td></tr></table>after"
    )
    assert html_to_text(html) == "Item     Price\nHeadset   3.90\nCable    1.50\n2 m\n\nafter"


def test_pre_keeps_its_white_space() -> None:
    """
    GIVEN a <pre> block with indentation, aligned columns and an inline element inside
    WHEN converted
    THEN its spaces and line breaks are kept, the inline element's too, while text around is collapsed
    """
    html = "<p>Log:</p><pre>$ apt-get   update\n  Get:1  <b>focal   InRelease</b>\n</pre><p>done   now</p>"
    assert html_to_text(html) == "Log:\n\n$ apt-get   update\n  Get:1  focal   InRelease\n\ndone now"


@pytest.mark.parametrize(
    "hidden",
    [
        "<script>var x = 'no';</script>",
        "<style>p { color: red }</style>",
        "<template><p>no</p></template>",
        '<div style="display:none">no</div>',
        '<span style="mso-hide:all; DISPLAY: NONE !important">no</span>',
        "<p hidden>no</p>",
        '<table><tr><td style="display: none">no</td><td>yes</td></tr></table>',
    ],
)
def test_hidden_elements_are_skipped_but_their_tail_is_not(hidden: str) -> None:
    """
    GIVEN an element that is not shown (script, style, template, display:none, the hidden attribute)
    WHEN converted
    THEN none of its text appears, and the text after it does
    """
    text = html_to_text(f"<html><head><title>no</title></head><body>{hidden}yes</body></html>")
    assert "no" not in text
    assert "yes" in text


def test_text_after_the_end_of_html_is_kept_and_blank_lines_are_tidy() -> None:
    """
    GIVEN paragraphs with many <br> between them, padded table cells, and text after </html>
    WHEN converted
    THEN there is at most one blank line in a row, no line ends in a blank, and the trailing text is kept
    """
    html = "<html><body><p>a</p><br><br><br><p>b</p><table><tr><td>x</td><td></td></tr></table></body></html>tail"
    text = html_to_text(html)
    assert text == "a\n\nb\n\nx\n\ntail"
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.split("\n"))


@pytest.mark.parametrize(
    "html",
    [
        "<p>unclosed <b>bold <i>italic",
        "</td></tr></table>stray end tags<td>cell without table",
        "<table><tr><td>a<table><td>nested without rows</table>",
        "<ul><li><li><ol><li value=x>bad value<li value=99999999999999999999>huge",
        '<?xml version="1.0" encoding="iso-8859-1"?><p>declared</p>',
        "<!-- only a comment -->",
        "<p>lone \ud800 surrogate and \x00 NUL</p>",
        "<div>" * 1000 + "deep" + "</div>" * 1000,
        '<p style="margin-top: 99999em; padding-left: -5px; display">odd styles</p>',
        "<<>><</ >< p>>",
    ],
)
def test_broken_html_never_raises(html: str) -> None:
    """
    GIVEN damaged or hostile HTML
    WHEN converted
    THEN text comes back without an exception and without markup of real tags
    """
    text, converter = render_html(html)
    assert isinstance(text, str)
    assert converter in ("layout", "inscriptis", "tags")
    assert "<p>" not in text
    assert "<td>" not in text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from([*"<>/=\"' &;#x\n\tpdivtablerhbulo!-", "\xa0", "é"]), max_size=300))
def test_tag_soup_never_raises(html: str) -> None:
    """
    GIVEN any string made of markup characters
    WHEN converted
    THEN a string comes back
    """
    assert isinstance(html_to_text(html), str)


_WORDS = st.sampled_from(["alpha", "beta ", " gamma", "  delta\n  epsilon ", "&amp;", "\t", "x", "\xa0", ""])
_STYLES = st.sampled_from(
    ["", "", "display:block", "display:inline", "margin-top:0px", "margin-bottom:16px", "padding-left:20px"]
)
_BLOCK_TAGS = st.sampled_from(["p", "div", "h2", "blockquote", "li", "ul", "ol", "section", "dd", "center"])
_INLINE_TAGS = st.sampled_from(["span", "b", "a", "font"])
_CELL_ATTRIBUTES = st.sampled_from(["", " align=right", " align=center", " valign=top", " valign=bottom"])


def _documents() -> st.SearchStrategy[str]:
    """Documents in the model both converters share: blocks, inline elements, lists, tables in a block."""

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        content = st.lists(children, max_size=4).map("".join)
        element = st.tuples(st.one_of(_BLOCK_TAGS, _INLINE_TAGS), _STYLES, content).map(
            lambda parts: f'<{parts[0]} style="{parts[1]}">{parts[2]}</{parts[0]}>'
        )
        cell = st.tuples(_CELL_ATTRIBUTES, content).map(lambda parts: f"<td{parts[0]}>{parts[1]}</td>")
        row = st.lists(cell, max_size=3).map(lambda cells: f"<tr>{''.join(cells)}</tr>")
        table = st.lists(row, max_size=3).map(lambda rows: f"<div><table>{''.join(rows)}</table></div>")
        return st.one_of(element, table, st.just("<br>"))

    tree = st.recursive(_WORDS, extend, max_leaves=25)
    return st.lists(tree, max_size=5).map(lambda parts: "<html><body>" + "".join(parts) + "</body></html>")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_the_walk_gives_inscriptis_text(html: str) -> None:
    """
    GIVEN a document of nested blocks, inline elements, lists, tables (cells aligned, nested) and inline styles
    WHEN it is converted by the layout walk and by inscriptis (the fallback)
    THEN both give the same text, character for character
    """
    text, converter = render_html(html)
    assert converter == "layout"
    assert text == html_to_text_inscriptis(html)


def test_a_tree_too_deep_is_declined_and_inscriptis_takes_over() -> None:
    """
    GIVEN a document nested deeper than the walk accepts
    WHEN converted
    THEN the walk declines, inscriptis makes the text, and the text is the same as the walk would give
    """
    html = "<div>" * 30 + "<p>deep <b>text</b></p><ul><li>item</li></ul>" + "</div>" * 30
    with pytest.raises(Declined):
        layout_tree(etree.fromstring(html, etree.HTMLParser()), max_depth=20)
    assert render_html(html, max_depth=20) == (html_to_text_inscriptis(html), "inscriptis")
    assert render_html(html) == (html_to_text_inscriptis(html), "layout")


def test_a_table_padded_to_gigabytes_gets_its_tags_stripped() -> None:
    """
    GIVEN 300 kB of HTML: a table whose first column holds a 100,000-character word, over 10,000 rows
    WHEN converted
    THEN the table is not laid out (its padding would take gigabytes) and the text is the tag-stripped one
    """
    html = "<table><tr><td>" + "x" * 100_000 + "</td><td>y</td></tr>" + "<tr><td>a</td><td>b</td></tr>" * 10_000
    text, converter = render_html(html + "</table>")
    assert converter == "tags"
    assert len(text) < 2 * len(html)
    assert "x" * 100_000 in text


def test_documents_of_real_mail_take_the_walk() -> None:
    """
    GIVEN an Outlook-style HTML mail (conditional comments, MsoNormal paragraphs, a signature table)
    WHEN converted
    THEN the walk makes the text (no fallback) and it reads as the mail does
    """
    html = (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><!--[if gte mso 9]><xml>x</xml>'
        "<![endif]--><style>p.MsoNormal{margin:0cm}</style></head><body lang=DE>"
        "<div class=WordSection1><p class=MsoNormal>Hallo Frau M&uuml;ller,<o:p></o:p></p>"
        "<p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>die Rechnung folgt.<o:p></o:p></p>"
        "<table><tr><td><b>Max Muster</b><br>Support</td><td>Tel. 0123</td></tr></table></div></body></html>"
    )
    text, converter = render_html(html)
    assert converter == "layout"
    assert text == "Hallo Frau Müller,\n\ndie Rechnung folgt.\n\nMax Muster  Tel. 0123\nSupport"
