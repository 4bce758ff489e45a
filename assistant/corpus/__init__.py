"""Sources → Article records: each file format's reader, and the corpus folder on disk.

Modules: :mod:`~assistant.corpus.text` (.txt/.md: encodings, line endings, front matter),
:mod:`~assistant.corpus.pdf`, :mod:`~assistant.corpus.docx` (one article a file),
:mod:`~assistant.corpus.records` (JSONL/CSV exports, one article a record, streamed),
:mod:`~assistant.corpus.readers` (the suffix → reader table and ``read_article``),
:mod:`~assistant.corpus.folder` (which files are articles; add, remove, restore),
:mod:`~assistant.corpus.bulk` (``assistant import``: copying files in),
:mod:`~assistant.corpus.extracted` (what a reader of any other format returns).
"""

from __future__ import annotations

from assistant.corpus.article import MAX_TITLE_CHARS, Article, title_from_body
from assistant.corpus.extracted import Extracted, Unreadable
from assistant.corpus.folder import (
    TRASH,
    add_file,
    add_text,
    article_paths,
    remove_article,
    restore_article,
    trashed_articles,
)
from assistant.corpus.readers import ARTICLE_SUFFIXES, DOCUMENT_READERS, article_from_bytes, read_article
from assistant.corpus.text import (
    TEXT_SUFFIXES,
    Decoded,
    decode_article,
    decode_bytes,
    normalize_newlines,
    parse_article,
)

__all__ = [
    "ARTICLE_SUFFIXES",
    "DOCUMENT_READERS",
    "MAX_TITLE_CHARS",
    "TEXT_SUFFIXES",
    "TRASH",
    "Article",
    "Decoded",
    "Extracted",
    "Unreadable",
    "add_file",
    "add_text",
    "article_from_bytes",
    "article_paths",
    "decode_article",
    "decode_bytes",
    "normalize_newlines",
    "parse_article",
    "read_article",
    "remove_article",
    "restore_article",
    "title_from_body",
    "trashed_articles",
]
