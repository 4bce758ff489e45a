"""Read one corpus file into an Article, choosing the reader by the file's suffix.

``.txt`` and ``.md`` are read by :mod:`assistant.corpus.text`. Every other format
has a reader ``(data: bytes, name: str) -> Extracted`` named in :data:`DOCUMENT_READERS`
as ``"module:function"``, imported on first use so that the heavy parsers load only
when a file needs them. A reader raises :class:`Unreadable` with the reason a file
cannot be imported; the indexer skips the file with that reason and goes on.

The text quotes are cut from is the reader's ``Extracted.text``. Readers are
deterministic: the same bytes and library versions (recorded in the index manifest)
give the same text, so ``read_article(path).text[start:end]`` re-checks any quote.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable
from pathlib import Path

from assistant.config import MAX_ARTICLE_BYTES
from assistant.corpus.article import Article, from_extracted
from assistant.corpus.extracted import Extracted, Unreadable
from assistant.corpus.records import RECORD_SUFFIXES
from assistant.corpus.text import TEXT_SUFFIXES, decode_article, parse_article
from assistant.errors import CorpusError

logger = logging.getLogger(__name__)

Reader = Callable[[bytes, str], Extracted]
# Suffix → the reader of a file holding one article.
DOCUMENT_READERS: dict[str, str] = {
    ".pdf": "assistant.corpus.pdf:extract_pdf",
    ".docx": "assistant.corpus.docx:extract_docx",
    **dict.fromkeys((".html", ".htm"), "assistant.corpus.html:extract_html"),
}
ARTICLE_SUFFIXES = TEXT_SUFFIXES + tuple(DOCUMENT_READERS) + RECORD_SUFFIXES
# A PDF or Word file carries fonts and images besides its text: its file may be this many
# times the limit of a text article (64 MB by default), while its extracted text is held to
# that limit. An export (JSONL, CSV) is read as a stream when indexed, of any size; this
# bounds one sent by upload (`assistant import` takes larger ones).
DOCUMENT_FACTOR = 32


def file_limit(suffix: str, max_bytes: int) -> int:
    """The largest file of this suffix read or uploaded, given the limit for a text article."""
    return max_bytes if suffix.lower() in TEXT_SUFFIXES else upload_limit(max_bytes)


def upload_limit(max_bytes: int) -> int:
    """The largest upload of any format, given the limit for a text article."""
    return DOCUMENT_FACTOR * max_bytes


def reader_for(suffix: str) -> Reader:
    """The document reader for a (lower-case) suffix, imported now."""
    module, _, function = DOCUMENT_READERS[suffix].partition(":")
    return getattr(importlib.import_module(module), function)


def extract(data: bytes, name: str, suffix: str) -> Extracted:
    """Run the reader for ``suffix`` over a file's bytes.

    Raises:
        CorpusError: the file is empty, the reader refused it, or its parser failed on it.
    """
    if not data.strip():  # a failed download or copy: each parser would call it damaged
        raise CorpusError(f"{name}: the file is empty")
    try:
        return reader_for(suffix)(data, name)
    except Unreadable as exc:
        raise CorpusError(f"{name}: {exc}") from exc
    except Exception as exc:  # a parser's own failure on a damaged file must not stop an import
        logger.debug("reading %s failed", name, exc_info=True)
        raise CorpusError(f"{name}: cannot be read, the file is damaged ({type(exc).__name__})") from exc


def article_from_bytes(
    data: bytes, article_id: str, path: Path, max_bytes: int = MAX_ARTICLE_BYTES
) -> Article:
    """An article from a file's bytes, read as its suffix says.

    Raises:
        CorpusError: the bytes cannot be read as an article of that format.
    """
    suffix = path.suffix.lower()
    if suffix in RECORD_SUFFIXES:
        raise CorpusError(f"{article_id}: an export holds many articles; read it with read_records")
    digest = hashlib.sha256(data).hexdigest()
    if suffix in DOCUMENT_READERS:
        return from_extracted(
            extract(data, article_id, suffix), article_id, path, digest, suffix[1:], max_bytes
        )
    text, encoding, warnings = decode_article(data, article_id)
    article = parse_article(text, article_id, path, encoding, digest, warnings)
    if not any(ch.isalnum() for ch in text[article.body_start :]):
        raise CorpusError(f"{article_id}: no body text")
    return article


def read_article(path: Path, root: Path | None = None, max_bytes: int = MAX_ARTICLE_BYTES) -> Article:
    """Read one article file.

    Args:
        path: the file.
        root: the corpus folder; the article id is the path relative to it.
        max_bytes: larger text files (and larger extracted texts) are refused with the limit named.

    Raises:
        CorpusError: the file cannot be read as an article.
    """
    article_id = path.relative_to(root).as_posix() if root else path.name
    if path.is_symlink():  # also when a file became a link after the corpus was scanned
        raise CorpusError(f"{article_id}: a symbolic link; not followed")
    limit = file_limit(path.suffix, max_bytes)
    try:
        size = path.stat().st_size
        if size > limit:
            raise CorpusError(
                f"{article_id}: {size / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB limit "
                "for one article; split it into several files"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{article_id}: cannot read the file ({exc.strerror})") from exc
    return article_from_bytes(data, article_id, path, max_bytes)
