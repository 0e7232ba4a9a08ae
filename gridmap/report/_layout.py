"""A small PDF layout engine on matplotlib figures: A4 pages with furniture, titles, tables.

matplotlib is imported inside the functions: it loads when a PDF is written, so
``import gridmap.report`` (and the command line) stays fast.
"""

from __future__ import annotations

from typing import Any

from gridmap.labels import text_width
from gridmap.maps import TITLE_GID
from gridmap.report._text import wrap

__all__ = [
    "A4",
    "BOOKMARK_GID",
    "LEFT",
    "RIGHT",
    "Pages",
    "Table",
    "fit_size",
    "hline",
    "section_title",
]

#: ``gid`` of a page's heading: :meth:`Pages.save` makes it the page's bookmark (map pages'
#: titles carry it too)
BOOKMARK_GID = TITLE_GID

#: page size in inches, and the left and right margins in figure coordinates
A4 = (8.27, 11.69)
LEFT, RIGHT = 0.07, 0.93


def fit_size(text: str, size: float, width: float, *, smallest: float = 8.0) -> float:
    """The largest font size ≤ ``size`` (down to ``smallest``) at which ``text`` fits ``width``.

    ``width`` is a figure fraction of the A4 page's width; widths are estimated from the
    characters (CJK 1 em, others 0.58 em), with a 3 % margin.
    """
    em = max(text_width(line, 1.0, 0.58) for line in str(text).split("\n")) or 1.0
    fits = width * A4[0] * 72 / (em * 1.03)
    return max(smallest, min(size, fits))


class Pages:
    """A4 pages with a running header and page numbers; headings become bookmarks."""

    def __init__(self, pdf: Any, header: str, date: str):
        self.pdf, self.header, self.date, self.n = pdf, header, date, 0
        #: ``(heading, page index)`` of every page with a heading (:data:`BOOKMARK_GID`)
        self.bookmarks: list[tuple[str, int]] = []

    def new(self) -> Any:
        """A blank A4 figure."""
        from matplotlib.figure import Figure

        return Figure(figsize=A4)

    def save(self, fig: Any, *, furniture: bool = True) -> None:
        """Add ``fig`` as the next page (with header, date and page number if ``furniture``)."""
        for t in fig.texts:
            if t.get_gid() == BOOKMARK_GID and t.get_text().strip():
                self.bookmarks.append((" ".join(t.get_text().split()), self.n))
                break
        self.n += 1
        if furniture:
            header = self.header
            if text_width(header, 1.0, 0.58) * 8 / 72 > (RIGHT - LEFT) * A4[0] * 72 * 0.7 / 72:
                header = wrap(header, (RIGHT - LEFT) * A4[0] * 72 * 0.7 / 8 - 1)[0] + "…"
            fig.text(LEFT, 0.972, header, fontsize=8, color="#666666", ha="left")
            fig.text(RIGHT, 0.972, self.date, fontsize=8, color="#666666", ha="right")
            fig.add_artist(hline(fig, 0.967))
            fig.text(0.5, 0.012, f"— {self.n} —", fontsize=8, color="#666666", ha="center")
        self.pdf.savefig(fig, facecolor="white")


def hline(
    fig: Any,
    y: float,
    *,
    x0: float = LEFT,
    x1: float = RIGHT,
    color: str = "#999999",
    lw: float = 0.6,
) -> Any:
    """A horizontal rule across the page at height ``y`` (figure coordinates)."""
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], transform=fig.transFigure, color=color, linewidth=lw)


def section_title(fig: Any, text: str, y: float = 0.935) -> None:
    """A bold section title with a red rule under it."""
    size = fit_size(text, 15, RIGHT - LEFT, smallest=10)
    lines = wrap(text, (RIGHT - LEFT) * A4[0] * 72 / size - 1)
    if len(lines) > 1:  # still too long at 10 pt: two lines, the rule under the second
        text = "\n".join([lines[0], "".join(lines[1:])])
    fig.text(
        LEFT,
        y,
        text,
        fontsize=size,
        fontweight="bold",
        ha="left",
        va="baseline",
        gid=BOOKMARK_GID,
        linespacing=1.2,
    )
    fig.add_artist(hline(fig, y - 0.01, color="#c0392b", lw=1.2))


class Table:
    """Draws a table over as many pages as it needs; wraps cells by display width."""

    FONT = 7.5

    def __init__(
        self,
        pages: Pages,
        columns: list[str],
        widths: list[float],
        *,
        aligns: list[str] | None = None,
    ):
        self.pages, self.columns = pages, columns
        total = sum(widths)
        self.widths = [w / total * (RIGHT - LEFT) for w in widths]
        self.aligns = aligns or ["left"] * len(columns)
        self.line_h = self.FONT * 1.45 / 72 / A4[1]
        self.chars = [w * A4[0] * 72 / self.FONT - 0.8 for w in self.widths]

    def _header(self, fig: Any, y: float) -> float:
        from matplotlib.patches import Rectangle

        h = self.line_h * 1.5
        fig.add_artist(
            Rectangle(
                (LEFT, y - h),
                RIGHT - LEFT,
                h,
                transform=fig.transFigure,
                facecolor="#34495e",
                edgecolor="none",
            )
        )
        x = LEFT
        for col, w in zip(self.columns, self.widths, strict=True):
            fig.text(
                x + 0.004,
                y - h / 2,
                col,
                fontsize=self.FONT,
                fontweight="bold",
                color="white",
                va="center",
            )
            x += w
        return y - h

    def draw(
        self,
        rows: list[list[str]],
        *,
        title: str,
        intro: str = "",
        fig: Any = None,
        top: float = 0.935,
        note: str = "",
    ) -> None:
        """Draw ``rows`` under ``title`` (and ``intro``), continuing on new pages as needed.

        With ``fig``, the table starts at ``top`` on that figure instead of a new page;
        ``note`` goes under the last row. The last page is saved.
        """
        from matplotlib.patches import Rectangle

        if fig is None:
            fig = self.pages.new()
            section_title(fig, title, top)
            y = top - 0.03
        else:
            y = top
        if intro:
            for line in wrap(intro, (RIGHT - LEFT) * A4[0] * 72 / 8 - 1):
                fig.text(LEFT, y, line, fontsize=8, color="#333333", va="top")
                y -= 8 * 1.5 / 72 / A4[1]
            y -= 0.006
        y = self._header(fig, y)
        bottom = 0.05
        for i, row in enumerate(rows):
            cells = [wrap(str(v), c) for v, c in zip(row, self.chars, strict=True)]
            n = max(len(c) for c in cells)
            h = n * self.line_h + self.line_h * 0.5
            if y - h < bottom:
                self.pages.save(fig)
                fig = self.pages.new()
                more = f"{title}（续）"
                fig.text(
                    LEFT,
                    0.935,
                    more,
                    fontsize=fit_size(more, 11, RIGHT - LEFT, smallest=7),
                    fontweight="bold",
                    va="baseline",
                )
                y = self._header(fig, 0.92)
            if i % 2:
                fig.add_artist(
                    Rectangle(
                        (LEFT, y - h),
                        RIGHT - LEFT,
                        h,
                        transform=fig.transFigure,
                        facecolor="#f2f4f5",
                        edgecolor="none",
                    )
                )
            x = LEFT
            for lines, w, align in zip(cells, self.widths, self.aligns, strict=True):
                tx = x + w - 0.004 if align == "right" else x + 0.004
                fig.text(
                    tx,
                    y - self.line_h * 0.25,
                    "\n".join(lines),
                    fontsize=self.FONT,
                    va="top",
                    ha=align,
                    linespacing=1.2,
                )
                x += w
            y -= h
            fig.add_artist(hline(fig, y, color="#dddddd", lw=0.4))
        if note:
            fig.text(LEFT, max(y - 0.015, 0.03), note, fontsize=7.5, color="#555555", va="top")
        self.pages.save(fig)
