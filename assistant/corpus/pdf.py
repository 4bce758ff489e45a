"""PDF articles, from the text layer, with pypdf.

pypdf was chosen by measurement on Chinese PDFs written by reportlab with the CJK font
STSong-Light (``bench/pdf_libraries.py``, figures in docs/benchmarks.md): it returns every
character verbatim with no space inserted, keeps the ideographic-space paragraph indent,
and is 3-4× faster than pdfplumber, which drops that indent and puts spaces inside
letter-spaced text ("2 0 2 4"); pdfminer.six puts a space between every character of a
letter-spaced line. pypdf's one weakness there, a line per glyph when glyphs are placed
one by one, is undone below.

What the text is: each page's lines, with running headers and footers (repeated on most
pages, or set in small type in the top or bottom margin) and page numbers dropped, and lines that a paragraph wraps joined back together (with no space between
Chinese characters, one space between two Latin words). A paragraph is one line of the
text. ``pages[n]`` is the offset in the text where page ``n + 1`` begins.
"""

from __future__ import annotations

import io
import logging
import math
import re
import unicodedata
from collections import Counter
from typing import Any

from assistant.corpus.extracted import Extracted, Unreadable

# Headers, footers and page numbers are looked for among this many lines at each end of a page.
_EDGE_LINES = 2
# Page margins (top and bottom) as a share of the page's height, and "small type" as a share
# of the size most of the page's characters are set in: what a running header looks like.
_MARGIN = 0.1
_SMALL_TYPE = 0.8
# A line shorter than this share of the page's longest line ends its paragraph (a headline,
# or a paragraph's last line).
_SHORT_LINE = 0.8
_BLANK = " \t\u3000\u00a0\ufeff"
_PAGE_NUMBER = re.compile(
    r"[-–—·\s]*(?:第\s*)?\d{1,4}\s*(?:页|/\s*\d{1,4}|of\s*\d{1,4})?(?:\s*共\s*\d{1,4}\s*页)?[-–—·\s]*",
    re.I,
)
_WIDE_GAP = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef]) +(?=[\u3001-\u9fff\uff00-\uffef])")
_NO_TITLE = re.compile(r"(?i)^(untitled|无标题|microsoft word\b)|\.(docx?|pdf|txt|wps)$")


def extract_pdf(data: bytes, name: str) -> Extracted:
    """The text layer of a PDF as one article.

    Raises:
        Unreadable: the PDF is encrypted, damaged, has no text layer (a scan), or one its fonts
            cannot turn into characters.
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf logs every damage it works around ("EOF marker not found"...): a bulk import's
    # terminal would drown in them. Damage it cannot work around is this file's skip reason.
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    # The header may follow some junk (the format allows 1 KB of it); a file with none is no PDF.
    if b"%PDF-" not in data[:1024]:
        raise Unreadable("not a PDF document (no %PDF header): another format renamed .pdf?")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise Unreadable(
                "encrypted PDF: it needs a password; save a copy without protection and import that"
            )
        read = [_page_text(page) for page in reader.pages]
        title = _metadata_title(reader)
    except PyPdfError as exc:
        raise Unreadable(f"damaged PDF, cannot be read ({exc})") from exc
    # Most of the text in fonts with no Unicode map (_unmapped): refused; one such heading font is read.
    printed = sum(total for _, _, total, _ in read)
    if printed and sum(unmapped for _, _, _, unmapped in read) * 2 > printed:
        raise Unreadable(
            "its fonts have no Unicode map (CID fonts without ToUnicode), so its text layer reads as "
            "garbage; import the article's text, or a PDF exported again with another tool"
        )
    pages = [(text, small) for text, small, _, _ in read]
    lines = _drop_page_furniture([_lines(text) for text, _ in pages], [small for _, small in pages])
    text, offsets = _join(lines)
    if not any(ch.isalnum() for ch in text):
        if any(ch.isalnum() for page, _ in pages for ch in page):
            raise Unreadable(
                "no article text: its text layer holds only running headers, footers or page numbers"
            )
        raise Unreadable(
            "a scanned PDF with no text layer (only images of pages); OCR is not supported: "
            "import the article's text or a PDF with a text layer"
        )
    return Extracted(text=text, title=title, pages=offsets)


def _page_text(page: Any) -> tuple[str, str, int, int]:
    """A page's text; the characters (blanks left out) it prints in its top and bottom margins
    in a smaller type than its body's: a running header or footer, even on a one-page PDF; and
    how many characters it prints, and how many of them in fonts with no Unicode map."""
    runs: list[tuple[str, float, float]] = []
    unmapped = 0

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        nonlocal unmapped
        # Text space to page space: the vertical scale and the baseline's height on the page.
        scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
        runs.append(("".join(text.split()), size * scale, tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))
        if _unmapped(font):
            unmapped += len(runs[-1][0])

    text = page.extract_text(visitor_text=visit) or ""
    sizes: Counter[float] = Counter()
    for run, size, _ in runs:
        sizes[round(size, 1)] += len(run)
    printed = sum(sizes.values())
    if not sizes:
        return text, "", 0, 0
    body = sizes.most_common(1)[0][0]
    bottom, top = float(page.mediabox.bottom), float(page.mediabox.top)
    margin = _MARGIN * (top - bottom)
    small = "".join(
        run for run, size, y in runs if size < _SMALL_TYPE * body and not bottom + margin < y < top - margin
    )
    return text, small, printed, unmapped


def _unmapped(font: object) -> bool:
    """Whether a font's codes are glyph numbers with no map to characters: a composite (Type0)
    font with the Identity encoding and no ToUnicode map, as some typesetting tools write CJK
    fonts. pypdf gives the numbers as characters, text of random ideographs and symbols."""
    get = getattr(font, "get", None)
    return (
        get is not None
        and get("/Subtype") == "/Type0"
        and get("/Encoding") in ("/Identity-H", "/Identity-V")
        and get("/ToUnicode") is None
    )


def _opens_without_password(reader: object) -> bool:
    """Whether the PDF opens with the empty password (protected against editing only)."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:  # pypdf raises its DependencyError, or NotImplementedError, for some ciphers
        return False


def _metadata_title(reader: object) -> str | None:
    try:
        title = (reader.metadata or {}).get("/Title")  # type: ignore[attr-defined]
    except Exception:  # a damaged info dictionary: the title falls back to the text
        return None
    title = " ".join(str(title or "").split())
    return title if title and not _NO_TITLE.search(title) else None


def _lines(page: str) -> list[str]:
    """The page's lines, their indent kept (it starts a paragraph).

    A space between two Chinese characters or full-width marks is a gap in the layout
    (kerning, justification), never in the text: Chinese puts no spaces there.
    """
    return [_WIDE_GAP.sub("", line.rstrip(_BLANK)) for line in page.splitlines()]


def _key(line: str) -> str:
    """A header or footer line with its numbers blanked: "第3版" and "第4版" are one header."""
    return re.sub(r"\d+", "#", line.strip(_BLANK))


def _drop_page_furniture(pages: list[list[str]], small: list[str]) -> list[list[str]]:
    """Drop page-number lines, and at the top or bottom of a page the lines repeated on most
    pages or set in small type in the margin (``small[n]``: that text of page ``n``)."""
    edges = Counter()
    for lines in pages:
        filled = [line for line in lines if line.strip(_BLANK)]
        edges.update({_key(line) for line in filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]})
    repeated = {key for key, n in edges.items() if len(pages) >= 2 and n >= max(2, (len(pages) + 1) // 2)}
    out = []
    for lines, marginal in zip(pages, small, strict=True):
        filled = [i for i, line in enumerate(lines) if line.strip(_BLANK)]
        edge = set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:])
        out.append(
            [
                line
                for i, line in enumerate(lines)
                if i not in edge
                or not (
                    _key(line) in repeated
                    or _PAGE_NUMBER.fullmatch(line.strip(_BLANK))
                    or "".join(line.split()) in marginal
                )
            ]
        )
    return out


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line.strip(_BLANK))


def _spaced(left: str, right: str) -> bool:
    """Whether a wrap between these two characters was a space: only between narrow (Latin) ones.

    East Asian "ambiguous" characters (—, …, “) count as Chinese text: a dash run wraps with no space.
    """
    return all(unicodedata.east_asian_width(ch) in ("Na", "N") for ch in (left, right))


def _join(pages: list[list[str]]) -> tuple[str, tuple[int, ...]]:
    """One text from the pages' lines, wrapped lines joined, and where each page starts in it."""
    parts: list[str] = []
    length = 0
    offsets: list[int] = []
    prev = ""
    prev_short = True
    for lines in pages:
        page_width = max((_width(line) for line in lines), default=0)
        first = True
        broken = False
        for raw in lines:
            line = raw.strip(_BLANK)
            if not line:
                broken = True
                continue
            if not prev or len(prev) == len(line) == 1:  # glyphs placed one by one come one a line
                sep = ""
            elif broken or prev_short or raw[0] in _BLANK:
                sep = "\n"
            else:
                sep = " " if _spaced(prev[-1], line[0]) else ""
            if first:
                offsets.append(length + len(sep))
                first = False
            parts += [sep, line]
            length += len(sep) + len(line)
            prev, broken = line, False
            prev_short = _width(raw) < _SHORT_LINE * page_width
        if first:
            offsets.append(length)
    if offsets:
        offsets[0] = 0
    return "".join(parts), tuple(offsets)
