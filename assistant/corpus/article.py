"""The Article record every reader produces, and the title rule shared by all formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assistant.corpus.extracted import Extracted
from assistant.errors import CorpusError

MAX_TITLE_CHARS = 40
# A title a file or record names is cut to this many characters: a mapping mistake
# (--fields title=正文) or a PDF whose metadata holds its text would put a whole article into
# every citation line.
LONGEST_TITLE = 200
# What from_extracted makes of control characters: the line breaks of Word (\v, \f), of
# JavaScript exports (U+2028, U+2029) and old Mac files become "\n"; every other control
# character (NUL, ESC, C1 controls) a space. Tab stays.
_BREAKS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROLS = {
    code: "\n" if chr(code) in _BREAKS else " "
    for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
    if chr(code) not in "\t\n"
}


@dataclass(frozen=True)
class Article:
    """One article as read from disk. ``warnings`` says what reading it had to repair.

    ``text`` is what quotes are cut from: ``text[start:end]`` is every quote. ``pages``
    holds the offset where each page starts, for paged formats (PDF); else it is empty.
    ``format`` is ``text`` for .txt/.md files, else the reader's (``pdf``, ``docx``,
    ``jsonl``...); ``record`` is the record's key in its export file (JSONL, CSV).
    """

    id: str
    path: Path
    text: str
    title: str
    encoding: str
    content_hash: str
    body_start: int = 0
    date: str | None = None
    source: str | None = None
    url: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    author: str | None = None
    pages: tuple[int, ...] = ()
    format: str = "text"
    record: str | None = None


def title_from_body(body: str) -> str | None:
    """The first line with a word in it, when it is short and does not end a sentence."""
    for line in body.splitlines():
        line = line.strip(" \t\u3000#")
        if not any(ch.isalnum() for ch in line):  # blank, or a rule such as an unclosed ``---``
            continue
        if len(line) <= MAX_TITLE_CHARS and line[-1] not in "。！？；…!?;，,":
            return one_line(line)
        return None
    return None


def one_line(value: str | None) -> str | None:
    """A title, source or url as one line with no control character, or None when nothing is left.

    Metadata is never quoted, so unlike an article's text it may be cleaned freely: an escape
    sequence in an export's or a page's title would otherwise reach a terminal (``index info``).
    """
    return " ".join((value or "").translate(_CONTROLS).split()) or None


def from_extracted(
    extracted: Extracted,
    article_id: str,
    path: Path,
    digest: str,
    fmt: str,
    max_chars_bytes: int,
    record: str | None = None,
) -> Article:
    """An Article from what an importer extracted.

    The title is the file's own, else the first short line, else the file name without its suffix
    (for a record, its id).

    Raises:
        CorpusError: the extracted text has no words, or is over ``max_chars_bytes`` in UTF-8.
    """
    # Readers hand back "\n" line ends; a stray "\r" or other line break becomes "\n" and any
    # other control character a space, one for one, so offsets (pages) stay true and no quote
    # holds a NUL or a break the paragraph count does not see.
    text = extracted.text.translate(_CONTROLS)
    if not any(ch.isalnum() for ch in text):
        raise CorpusError(f"{article_id}: no text to index")
    size = len(text.encode("utf-8"))
    if size > max_chars_bytes:
        raise CorpusError(
            f"{article_id}: its text is {size / 2**20:.1f} MB, over the {max_chars_bytes / 2**20:.0f} MB "
            "limit for one article; split it into several files"
        )
    return Article(
        id=article_id,
        path=path,
        text=text,
        title=_shortened(one_line(extracted.title))
        or title_from_body(text)
        or (article_id if record else Path(article_id).stem),
        encoding=fmt,
        content_hash=digest,
        date=one_line(extracted.date),
        source=one_line(extracted.source),
        url=one_line(extracted.url),
        author=one_line(extracted.author),
        pages=extracted.pages,
        format=fmt,
        record=record,
    )


def _shortened(title: str | None) -> str | None:
    """The title, cut to LONGEST_TITLE characters (the cut marked with …)."""
    if title and len(title) > LONGEST_TITLE:
        return title[: LONGEST_TITLE - 1] + "…"
    return title
