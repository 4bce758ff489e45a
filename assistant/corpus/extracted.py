"""What an importer hands to the corpus: the text quotes are cut from, and its metadata."""

from __future__ import annotations

from dataclasses import dataclass


class Unreadable(Exception):
    """A file (or record) that cannot be imported; ``str(error)`` is the reason shown to the user.

    The reason never holds an absolute path: the web UI shows it.
    """


@dataclass(frozen=True)
class Extracted:
    """One article taken out of a file.

    Attributes:
        text: the body as plain text, one paragraph per line (``\\n``); every quote is
            ``text[start:end]`` of exactly this string.
        title: the headline, when the file names one.
        date: ISO ``YYYY-MM-DD``, when the file has one.
        author: the byline's author, when present.
        source: the publisher (e.g. 人民日报, 澎湃新闻), when present.
        url: the canonical address, when present.
        pages: for paged formats, the offset in ``text`` where each page starts
            (``pages[0] == 0``); empty for unpaged formats.
    """

    text: str
    title: str | None = None
    date: str | None = None
    author: str | None = None
    source: str | None = None
    url: str | None = None
    pages: tuple[int, ...] = ()
