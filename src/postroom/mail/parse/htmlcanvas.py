"""Text canvases for the HTML layout walk (htmllayout.py): lines with inscriptis's margins, indentation and
bullets, and tables rendered as aligned columns side by side, the way inscriptis renders them."""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from typing import Final

Fit = Callable[[str, int], str]  # how a cell's lines are aligned: str.ljust, str.rjust or str.center
LEFT: Final[Fit] = str.ljust
CELL_SEPARATOR: Final = "  "  # as inscriptis
_FRESH: Final = 1000  # margin of an empty canvas: no blank lines at its start
# our bound on one rendered table, padding included: 4x the most HTML ever read (5 M characters). Padding grows
# with rows x column width, so 300 kB of HTML (one 100,000-character word over 10,000 rows) would otherwise
# take gigabytes; inscriptis has no such bound, so such a document gets its tags stripped instead
MAX_TABLE_CHARS: Final = 20_000_000


class TableTooLarge(Exception):  # noqa: N818 - a verdict on the input, like Declined in htmllayout
    """A table whose columns would take more than MAX_TABLE_CHARS characters."""


class Canvas:
    """Lines of text being written: the current line, blank-line margins, indentation and pending bullets."""

    __slots__ = (
        "blocks", "broken", "cur", "exact", "indent", "lines", "margin", "pending", "raw", "space", "width",
    )  # fmt: skip

    def __init__(self, exact: bool = False) -> None:
        self.lines: list[str] = []
        self.raw: list[str] = []  # text of the current line as written, its white space not yet collapsed
        self.cur: list[str] = []  # pieces of the current line, white space collapsed
        self.space = False  # white space seen after the last word in `cur`
        self.margin = _FRESH  # blank lines since the last text
        self.indent = 0
        self.blocks: list[tuple[int, str]] = []  # per open block: its indentation and bullet ("" once written)
        self.pending = 0  # bullets not yet written
        self.broken = False  # some entry of `lines` holds a line break (from <pre> text)
        self.width = 0  # the widest line (not kept up once broken); tables written here count with padding
        self.exact = exact  # a right-aligned or centred cell: its lines are aligned one by one, keep all padding

    def _pop_bullet(self) -> str:
        blocks = self.blocks
        for index in range(len(blocks) - 1, -1, -1):
            padding, bullet = blocks[index]
            if bullet:
                blocks[index] = (padding, "")
                self.pending -= 1
                return bullet
        return ""  # pragma: no cover - pending counts the non-empty entries

    def _prefix(self) -> str:
        bullet = self._pop_bullet() if self.pending else ""
        return " " * (self.indent - len(bullet)) + bullet

    def write(self, text: str) -> None:
        """Text whose white space collapses to single spaces, none at the start or end of a line."""
        self.raw.append(text)

    def _collapse(self) -> None:
        """Move `raw` into `cur`. Collapsing the white space of a whole run of text nodes at once gives what
        collapsing node by node gives (a run of white space across nodes is one space), for a fraction of the
        cost: most text nodes are a word or two, or only white space."""
        raw = self.raw
        text = raw[0] if len(raw) == 1 else "".join(raw)
        raw.clear()
        words = text.split()
        cur = self.cur
        if not words:
            self.space = self.space or bool(cur)
            return
        if cur:
            if self.space or text[0].isspace():
                cur.append(" ")
        elif self.indent or self.pending:
            cur.append(self._prefix())
        cur.append(" ".join(words))
        self.space = text[-1].isspace()

    def write_pre(self, text: str) -> None:
        """Text kept as it is; its line breaks are indented like the block."""
        if self.raw:
            self._collapse()
        cur = self.cur
        if cur:
            if self.space:
                cur.append(" ")
        elif self.indent or self.pending:
            cur.append(self._prefix())
        if "\n" in text:
            self.broken = True
            if self.indent:
                text = text.replace("\n", "\n" + " " * self.indent)
        cur.append(text)
        self.space = False

    def write_rows(self, rows: list[str], widths: tuple[int, int]) -> None:
        """A rendered table as lines of their own, then an empty line (as inscriptis: its text ends in a line
        break); `widths` are those of its first and widest other line with all their padding."""
        self.flush()
        first = self._prefix() if self.indent or self.pending else ""
        if first or self.indent:
            rest = " " * self.indent
            self.lines.append(first + rows[0] if rows else first)
            self.lines.extend([rest + row for row in rows[1:]])
            self.lines.append(rest)
        else:
            self.lines.extend(rows or ("",))
            self.lines.append("")
        self.margin = 0
        self.width = max(self.width, len(first) + widths[0], self.indent + widths[1])

    def flush(self) -> bool:
        """End the current line if it holds text; False if it was empty."""
        if self.raw:
            self._collapse()
        if not self.cur:
            return False
        line = "".join(self.cur)
        self.lines.append(line)
        if len(line) > self.width and not self.broken:
            self.width = len(line)
        self.cur = []
        self.space = False
        self.margin = 0
        return True

    def newline(self) -> None:
        """<br>: end the line, or add an empty one."""
        if not self.flush():
            self.lines.append("")

    def _blank(self, lines: int) -> None:
        if lines > self.margin:
            self.lines.extend([""] * (lines - self.margin))
            self.margin = lines

    def _lone_bullet(self) -> None:
        """A list item without text of its own still shows its bullet."""
        if self.pending:
            bullet = self._pop_bullet()
            line = " " * (self.indent - self.blocks[-1][0] - len(bullet)) + bullet
            self.lines.append(line)
            self.width = max(self.width, len(line))
            self.margin = 0

    def open_block(self, before: int, padding: int, bullet: str) -> None:
        if not self.flush() and bullet:
            self._lone_bullet()
        self.blocks.append((padding, bullet))
        self.indent += padding
        if bullet:
            self.pending += 1
        if before > self.margin:
            self._blank(before)

    def close_block(self, after: int, bullet: str) -> None:
        if not self.flush() and bullet:
            self._lone_bullet()
        padding, unwritten = self.blocks.pop()
        self.indent -= padding
        if unwritten:
            self.pending -= 1
        if after > self.margin:
            self._blank(after)

    def text(self) -> str:
        self.flush()
        return "\n".join(self.lines)


EMPTY_CELL: Final = Canvas()  # the canvas of every empty cell; nothing is ever written to it
_NO_LINES: Final = [""]  # the lines of an empty cell (never changed)


_Cell = tuple[list[str], Fit, int]  # lines, alignment, vertical alignment (0 top, 1 middle, 2 bottom)


class Table:
    """Rows of cells, each cell a canvas of its own; text outside the cells goes to `loose`."""

    __slots__ = ("loose", "rows")

    def __init__(self) -> None:
        self.loose = Canvas()
        self.rows: list[list[tuple[Canvas, Fit, int]]] = []  # (canvas, alignment, vertical alignment)

    def render(self, elide: bool) -> tuple[list[str], tuple[int, int]]:
        """Cells side by side, columns as wide as their widest line, separated by two spaces (as inscriptis),
        and the widths of the first and the widest other line. With `elide` the last cell of a row, if
        left-aligned, is not padded on the right: blanks at line ends are trimmed in the end, or padded again
        by a left-aligned cell around (whose width `Canvas.width` keeps). That saves most of the work in
        tables nested in tables."""
        grid, widths, height = self._grid()
        fulls = [end + len(CELL_SEPARATOR) * column for column, end in enumerate(accumulate(widths))]
        if fulls and fulls[-1] * height > MAX_TABLE_CHARS:
            raise TableTooLarge(f"{len(widths)} columns, {fulls[-1]} wide, {height} lines")
        out: list[str] = []
        first = rest = 0
        for cells in grid:
            if not cells:
                out.append("")  # a row without cells is an empty line
                continue
            full = fulls[len(cells) - 1]
            if out:
                rest = max(rest, full)
            else:
                first = full
            lines = _row_lines(cells, widths, full, elide)
            if len(lines) > 1:
                rest = max(rest, full)
            out.extend(lines)
        return out, (first, rest)

    def _grid(self) -> tuple[list[list[_Cell]], list[int], int]:
        """Each cell's lines, the width of each column, and the number of lines of all rows."""
        grid: list[list[_Cell]] = []
        widths: list[int] = []
        height = 0
        for row in self.rows:
            cells = []
            row_height = 1
            for column, (canvas, fit, valign) in enumerate(row):
                if canvas is EMPTY_CELL:
                    lines = _NO_LINES
                    width = 0
                else:
                    canvas.flush()
                    lines = canvas.lines or _NO_LINES
                    width = canvas.width
                    if canvas.broken:
                        lines = "\n".join(lines).split("\n")
                        width = max(width, *map(len, lines))
                cells.append((lines, fit, valign))
                row_height = max(row_height, len(lines))
                if column == len(widths):
                    widths.append(width)
                elif width > widths[column]:
                    widths[column] = width
            grid.append(cells)
            height += row_height
        return grid, widths, height


def _row_lines(cells: list[_Cell], widths: list[int], full: int, elide: bool) -> list[str]:
    """The lines of one row: its cells side by side, vertically aligned in the row's height."""
    last = len(cells) - 1
    last_lines, last_fit, _ = cells[last]
    open_end = elide and last_fit is LEFT
    if not last:  # one cell: its lines as they are, or aligned
        return last_lines if open_end else [last_fit(line, full) for line in last_lines]
    height = max([len(lines) for lines, _, _ in cells])
    if height == 1:
        parts = [fit(lines[0], widths[column]) for column, (lines, fit, _) in enumerate(cells)]
        if open_end:
            parts[last] = last_lines[0]
        return [CELL_SEPARATOR.join(parts)]
    columns: list[list[str]] = []
    for column, (lines, fit, valign) in enumerate(cells):
        width = widths[column]
        top = (height - len(lines)) * valign // 2
        blank = "" if open_end and column == last else " " * width
        fitted = [fit(line, width) for line in lines] if blank or fit is not LEFT else lines
        columns.append([blank] * top + fitted + [blank] * (height - top - len(lines)))
    return [CELL_SEPARATOR.join(parts) for parts in zip(*columns, strict=True)]
