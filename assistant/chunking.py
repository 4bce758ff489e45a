"""Chinese sentence splitting and passage assembly, with offsets into the article.

Paragraphs are the article's non-empty lines; sentences end at 。！？；… (and
their ASCII forms), taking any closing quotes or brackets with them; passages
are runs of whole sentences. Every span is a ``(start, end)`` pair into
``Article.text``, so leading full-width indentation is never part of a quote
and ``text[start:end]`` always gives back what was quoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.config import ChunkSettings
from assistant.corpus import Article

TERMINATORS = frozenset("。！？；!?;…")
CLOSERS = frozenset("”’」』）)】》\"'")
SOFT_BREAKS = frozenset("，、：,:")
_BLANK = " \t\r\f\v\u3000\u00a0\ufeff"


@dataclass(frozen=True)
class Sentence:
    """A sentence's span in the article and its 1-based paragraph number."""

    start: int
    end: int
    paragraph: int


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences: the unit that is embedded and ranked."""

    article_id: str
    ordinal: int
    paragraph: int
    start: int
    end: int
    text: str
    sentences: tuple[Sentence, ...]


def paragraphs(text: str, start: int = 0) -> list[tuple[int, int]]:
    """Spans of the non-empty lines of ``text[start:]``, blanks trimmed."""
    spans = []
    pos = start
    while pos < len(text):
        newline = text.find("\n", pos)
        end = len(text) if newline < 0 else newline
        left, right = pos, end
        while left < right and text[left] in _BLANK:
            left += 1
        while right > left and text[right - 1] in _BLANK:
            right -= 1
        if left < right:
            spans.append((left, right))
        pos = end + 1
    return spans


def split_sentences(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Sentence spans inside one paragraph span; over-long ones cut at commas."""
    spans = []
    begin = start
    i = start
    while i < end:
        if text[i] in TERMINATORS:
            while i < end and text[i] in TERMINATORS:
                i += 1
            while i < end and text[i] in CLOSERS:
                i += 1
            spans.append((begin, i))
            while i < end and text[i] in _BLANK:
                i += 1
            begin = i
        else:
            i += 1
    if begin < end:
        spans.append((begin, end))
    spans = _merge_bare_punctuation(text, spans)
    return [piece for span in spans for piece in _cut_long(text, *span, max_chars)]


def _merge_bare_punctuation(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Glue a span with no word character in it (e.g. a lone ``……”``) to the one before."""
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and not any(ch.isalnum() for ch in text[s:e]):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _cut_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    pieces = []
    while end - start > max_chars:
        cut = max(
            (i + 1 for i in range(start + max_chars // 2, start + max_chars) if text[i] in SOFT_BREAKS),
            default=start + max_chars,
        )
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def sentences(article: Article, max_chars: int) -> list[Sentence]:
    """All sentences of an article's body, in order, with paragraph numbers."""
    out = []
    for number, (p_start, p_end) in enumerate(paragraphs(article.text, article.body_start), 1):
        for s, e in split_sentences(article.text, p_start, p_end, max_chars):
            out.append(Sentence(s, e, number))
    return out


def chunk_article(article: Article, settings: ChunkSettings) -> list[Passage]:
    """Cut an article into passages of whole sentences.

    A passage closes once it reaches ``target_chars``, at a paragraph break once
    past ``min_chars``, or before it would pass ``max_chars``. A passage closed
    for size shares its last ``overlap_sentences`` sentences with the next one;
    one closed at a paragraph break does not, since the break is a natural seam.
    """
    sents = sentences(article, settings.max_chars)
    passages: list[Passage] = []
    i = 0
    while i < len(sents):
        j = i + 1
        at_paragraph_break = False
        while j < len(sents):
            length = sents[j - 1].end - sents[i].start
            if length >= settings.target_chars:
                break
            if sents[j].end - sents[i].start > settings.max_chars:
                break
            if sents[j].paragraph != sents[j - 1].paragraph and length >= settings.min_chars:
                at_paragraph_break = True
                break
            j += 1
        group = tuple(sents[i:j])
        start, end = group[0].start, group[-1].end
        passages.append(
            Passage(
                article_id=article.id,
                ordinal=len(passages),
                paragraph=group[0].paragraph,
                start=start,
                end=end,
                text=article.text[start:end],
                sentences=group,
            )
        )
        if j >= len(sents):
            break
        overlap = 0 if at_paragraph_break else min(settings.overlap_sentences, j - i - 1)
        i = j - overlap
    return passages
