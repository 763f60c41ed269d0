"""Lay out an lxml HTML tree as plain text in one recursive walk: inscriptis's text model without its cost.

inscriptis (the fallback, see htmltext.py) builds a style object per element and normalises white space one
character at a time; this walk keeps the same layout rules (block lines and blank-line margins, list bullets,
tables as aligned columns, <pre>, the inline CSS of htmlcss.py) and collapses white space a line at a time
with `str.split`. What is left is mostly lxml's own cost per element, so the walk asks lxml as little as it
can: the attribute names once (`keys()`), the children as a list (`element[:]` is built in C, iterating an
element is not), and only elements with a rule of their own leave the short path in `walk`.
"""

from __future__ import annotations

from typing import Any, Final

from postroom.mail.parse.htmlcanvas import EMPTY_CELL, LEFT, Canvas, Table
from postroom.mail.parse.htmlcss import INLINE, NONE, InlineStyle, read_style

# (blank lines before, blank lines after, indentation) of the block elements: inscriptis's strict profile plus
# the sectioning, form and definition-list elements that browsers also put on their own lines
_BLOCKS: Final[dict[str, tuple[int, int, int]]] = {
    **dict.fromkeys(("p", "figure", "h1", "h2", "h3", "h4", "h5", "h6"), (1, 1, 0)),
    **dict.fromkeys(("ul", "ol", "dir", "menu"), (0, 0, 4)),
    **dict.fromkeys(
        (
            "li", "div", "blockquote", "address", "article", "aside", "footer", "header", "hgroup", "main", "nav",
            "section", "figcaption", "layer", "center", "form", "fieldset", "legend", "details", "summary",
            "dl", "dt", "dd", "hr", "tr", "pre", "xmp", "listing", "plaintext", "table",
        ),
        (0, 0, 0),
    ),
}  # fmt: skip
_HIDDEN_TAGS: Final = ("head", "title", "script", "style", "template", "meta", "link")
_PRE_TAGS: Final = ("pre", "xmp", "listing", "plaintext")
_LIST, _ITEM, _BREAK, _TABLE, _ROW, _CELL, _QUOTE, _HIDE = range(1, 9)
_SPECIAL: Final = {
    "ul": _LIST, "ol": _LIST, "dir": _LIST, "menu": _LIST, "li": _ITEM, "br": _BREAK, "table": _TABLE,
    "tr": _ROW, "td": _CELL, "th": _CELL, "q": _QUOTE, **dict.fromkeys(_HIDDEN_TAGS, _HIDE),
}  # fmt: skip
# per tag with a rule: (block layout or None, keeps white space, special kind or 0); other tags are plain inline
_KINDS: Final[dict[str, tuple[tuple[int, int, int] | None, bool, int]]] = {
    tag: (_BLOCKS.get(tag), tag in _PRE_TAGS, _SPECIAL.get(tag, 0)) for tag in {*_BLOCKS, *_SPECIAL}
}
_KINDS["th"] = _KINDS["td"]  # one object, so that the walk can test `is`
_PLAIN: Final = (None, False, 0)
_BR: Final = _KINDS["br"]
_TD: Final = _KINDS["td"]
_TR: Final = _KINDS["tr"]
UL_BULLETS: Final = ("* ", "+ ", "o ", "- ")  # by list depth, as inscriptis
_ALIGN: Final = {"left": LEFT, "right": str.rjust, "center": str.center}
_VALIGN: Final = {"top": 0, "middle": 1, "bottom": 2}
MAX_DEPTH: Final = 400  # deeper trees are declined: lxml's parser stops at 255 levels, Python's stack near 1,000


class Declined(Exception):  # noqa: N818 - a verdict, not an error: the caller falls back to inscriptis
    """The tree is outside what this layout handles; use the fallback."""


class _Layout:
    """One walk over the tree; `canvas` is where text goes now (the page, a table cell, a table's loose text)."""

    __slots__ = ("canvas", "lists", "max_depth", "tables")

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.canvas = Canvas()
        self.lists: list[str | int] = []  # per open list: its bullet, or the next number
        self.tables: list[Table] = []

    def _bullet(self, element: Any) -> str:
        if not self.lists:
            return UL_BULLETS[0]
        bullet = self.lists[-1]
        if isinstance(bullet, str):
            return bullet
        value = element.get("value")
        number = int(value) if value and value.isdecimal() and len(value) < 10 else bullet
        self.lists[-1] = number + 1
        return f"{number}. "

    def _open_list(self, element: Any) -> None:
        if element.tag != "ol":
            self.lists.append(UL_BULLETS[len(self.lists) % len(UL_BULLETS)])
            return
        start = element.get("start")
        self.lists.append(int(start) if start and start.isdecimal() and len(start) < 10 else 1)

    def walk(self, element: Any, pre: bool, parent_after: int, depth: int) -> None:  # noqa: PLR0912 - the dispatch every element goes through, kept in one frame
        """Lay out `element`, then its tail; `pre` and `parent_after` describe the parent. Plain inline
        elements (span, b, a, font ...) without layout in their style take the short way here."""
        tag = element.tag
        if type(tag) is str:
            # attribute names first: one call, and cheaper than the two look-ups it saves on most elements
            names = element.keys()
            if not names or "hidden" not in names:
                kind = _KINDS.get(tag)
                css = read_style(element.get("style")) if names and "style" in names else None
                if css is not None:
                    self._element(element, kind or _PLAIN, css, pre, parent_after=parent_after, depth=depth)
                elif kind is None:
                    if depth > self.max_depth:
                        raise Declined("tree too deep")
                    text = element.text
                    if text:
                        if pre:
                            self.canvas.write_pre(text)
                        else:
                            self.canvas.raw.append(text)
                    depth += 1
                    for child in element[:]:
                        self.walk(child, pre, 0, depth)
                elif kind is _BR:
                    self.canvas.newline()
                elif kind is _TD and self.tables:
                    self._cell(element, names, pre, depth)
                elif kind is _TR and self.tables:
                    self._row(element, pre, parent_after, depth)
                elif kind[2]:
                    self._element(element, kind, None, pre, parent_after=parent_after, depth=depth)
                else:
                    self._block(element, kind, pre, parent_after, depth)
        tail = element.tail
        if tail:
            if pre:
                self.canvas.write_pre(tail)
            else:
                self.canvas.raw.append(tail)

    def _cell(self, element: Any, names: list[str], pre: bool, depth: int) -> None:
        """A <td> or <th> without a style inside a table: a canvas of its own in the last row."""
        if depth > self.max_depth:
            raise Declined("tree too deep")
        rows = self.tables[-1].rows
        if not rows:
            rows.append([])
        fit = _ALIGN.get(element.get("align"), LEFT) if "align" in names else LEFT
        valign = _VALIGN.get(element.get("valign"), 1) if "valign" in names else 1
        text = element.text
        if not pre and (not text or text.isspace()) and not len(element):
            rows[-1].append((EMPTY_CELL, fit, valign))  # spacer cells: many in newsletters
            return
        canvas = Canvas(fit is not LEFT)
        rows[-1].append((canvas, fit, valign))
        saved = self.canvas
        self.canvas = canvas
        if text:
            if pre:
                self.canvas.write_pre(text)
            else:
                self.canvas.raw.append(text)
        depth += 1
        for child in element[:]:
            self.walk(child, pre, 0, depth)
        self.canvas = saved

    def _row(self, element: Any, pre: bool, parent_after: int, depth: int) -> None:
        """A <tr> without a style inside a table: a new row (and a block of the table's loose text)."""
        if depth > self.max_depth:
            raise Declined("tree too deep")
        self.tables[-1].rows.append([])
        canvas = self.canvas
        canvas.open_block(parent_after, 0, "")
        text = element.text
        if text:
            if pre:
                self.canvas.write_pre(text)
            else:
                self.canvas.raw.append(text)
        depth += 1
        for child in element[:]:
            self.walk(child, pre, 0, depth)
        canvas.close_block(0, "")

    def _block(
        self, element: Any, kind: tuple[tuple[int, int, int] | None, bool, int], pre: bool, parent_after: int,
        depth: int,
    ) -> None:  # fmt: skip
        """A block element without a style and without a rule of its own (p, div, blockquote, pre ...)."""
        if depth > self.max_depth:
            raise Declined("tree too deep")
        before, after, padding = kind[0] or (0, 0, 0)
        own_pre = pre or kind[1]
        canvas = self.canvas
        canvas.open_block(max(parent_after, before), padding, "")
        text = element.text
        if text:
            if own_pre:
                self.canvas.write_pre(text)
            else:
                self.canvas.raw.append(text)
        depth += 1
        for child in element[:]:
            self.walk(child, own_pre, after, depth)
        canvas.close_block(after, "")

    def _element(  # noqa: PLR0912, PLR0915 - one branch per element kind and style property, in one frame for speed
        self, element: Any, kind: tuple[tuple[int, int, int] | None, bool, int], css: InlineStyle | None,
        pre: bool, *, parent_after: int, depth: int,
    ) -> None:  # fmt: skip
        """Any element but a plain inline one: blocks, lists, <br>, tables, cells, styles; not its tail nor
        its `hidden` attribute (walk saw to both)."""
        block, own_pre, special = kind
        if special == _HIDE:
            return
        own_pre = own_pre or pre
        valign = 1
        if css is not None:
            if css.display is not None:
                if css.display == NONE:
                    return
                if css.display == INLINE:
                    block = None
                elif block is None:
                    block = (0, 0, 0)
            if css.pre is not None:
                own_pre = css.pre
            if block is not None and (css.margin_before, css.margin_after, css.padding) != (None, None, None):
                before, after, padding = block
                block = (
                    before if css.margin_before is None else css.margin_before,
                    after if css.margin_after is None else css.margin_after,
                    padding if css.padding is None else css.padding,
                )
            if css.valign is not None:
                valign = css.valign
        if depth > self.max_depth:
            raise Declined("tree too deep")
        canvas = saved = self.canvas
        bullet = ""
        table: Table | None = None
        if special:
            if special == _BREAK:
                canvas.newline()
            elif special == _CELL:
                if self.tables:
                    rows = self.tables[-1].rows
                    if not rows:
                        rows.append([])
                    fit = _ALIGN.get(element.get("align") or "", LEFT)
                    canvas = self.canvas = Canvas(fit is not LEFT)
                    rows[-1].append((canvas, fit, _VALIGN.get(element.get("valign") or "", valign)))
            elif special == _ROW:
                if self.tables:
                    self.tables[-1].rows.append([])
            elif special == _ITEM:
                bullet = self._bullet(element)
            elif special == _LIST:
                self._open_list(element)
            elif special == _TABLE:
                block = block or (0, 0, 0)
                table = Table()
                self.tables.append(table)
        if block is not None:
            canvas.open_block(max(parent_after, block[0]), block[2], bullet)
            after = block[1]
        else:
            after = 0
        if table is not None:
            self.canvas = table.loose
        if special == _QUOTE:
            canvas.write('"')
        text = element.text
        if text:
            if own_pre:
                self.canvas.write_pre(text)
            else:
                self.canvas.raw.append(text)
        depth += 1
        for child in element[:]:
            self.walk(child, own_pre, after, depth)
        if special:
            if special == _QUOTE:
                canvas.write('"')
            elif special == _LIST:
                self.lists.pop()
            elif table is not None:
                self.tables.pop()
                loose = table.loose.text().strip()
                if loose:  # text inside the table but outside its cells: shown above the table
                    canvas.write(loose)
                    canvas.flush()
                # an empty line follows the rows, as in inscriptis: it sets the height of a cell holding a table,
                # and so how the text of a row's cells lines up
                canvas.write_rows(*table.render(elide=not canvas.exact))
        if block is not None:
            canvas.close_block(after, bullet)
        self.canvas = saved


def layout_tree(root: Any, *, max_depth: int = MAX_DEPTH) -> str:
    """The text of an lxml HTML tree, before the tidy-up of htmltext.py; raises Declined for a tree deeper than
    `max_depth` (the caller then uses inscriptis)."""
    layout = _Layout(max_depth)
    layout.walk(root, False, 0, 0)
    return layout.canvas.text()
