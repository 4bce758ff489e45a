"""Example questions for the empty chat, each one checked to be answered before it is shown.

The articles' ``questions:`` front matter comes first. When that gives fewer than
:data:`WANTED`, questions are made from sentences that hold a concrete fact: a number
with its unit becomes 多少 + unit, a date becomes 哪天, and the clause around it is
the question (「400余名党员在党旗下郑重宣誓」 → 「多少名党员在党旗下郑重宣誓？」). Every
example is asked at startup; it is shown only when the assistant answers it, and a
made-up one only when its first quote holds the fact it was made from. When the live
index changes, :class:`LiveExamples` asks the shown ones again and replaces those that fail.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.errors import AssistantError
from assistant.service import Assistant
from assistant.store import PassageRecord

logger = logging.getLogger(__name__)

WANTED = 3
LISTED_LIMIT = 6
# At most this many listed and this many made-up questions are asked at startup (~50 ms each).
MAX_TRIES = 12
MIN_CLAUSE, MAX_CLAUSE = 10, 40
_DIGITS = r"[0-9０-９]+(?:[.．][0-9０-９]+)?"
# A count: digits, or Chinese numerals other than a lone 一 (一个/一位 is an article, not a count).
_COUNT = re.compile(
    rf"({_DIGITS}|[二三四五六七八九十两][十百千万]?[一二三四五六七八九十]?|一[十百千万][一二三四五六七八九十]?)[余多]?"
    r"(名|个|家|所|座|位|人|件|辆|台|吨|公里|米|天|小时|万元|亿元|元|张|床|支|项|批|架|艘|户|次)"
)
_DATE = re.compile(rf"(?:{_DIGITS}年)?{_DIGITS}月{_DIGITS}日")
_CLAUSE_END = "，；：。！？,;:!?"
# Datelines, bylines and picture notes hold numbers and dates but make no question.
_NOT_A_FACT = re.compile(r"日电|记者|通讯员|报道|附图|图片|摄|编者按")
# A clause that starts like this leans on the clause before it for its subject.
_NEEDS_SUBJECT = (
    *"是的和并而也但还都已将就为被把从于他她它该这此其",
    *("两国", "双方", "据悉", "同时", "另外", "此外"),
)
_SENTENCE_END = re.compile(r"[。！？!?][”’\"』」）)]*$")


@dataclass(frozen=True)
class MadeQuestion:
    """A question made from a sentence, and where in its article the fact it asks for is."""

    text: str
    article_id: str
    start: int
    end: int


def _clause(sentence: str, a: int, b: int) -> tuple[int, int]:
    """The clause of ``sentence`` around ``[a, b)``, widened to the clause before when too short."""
    start = max((sentence.rfind(p, 0, a) for p in _CLAUSE_END), default=-1) + 1
    ends = [i for i in (sentence.find(p, b) for p in _CLAUSE_END) if i >= 0]
    end = min(ends) if ends else len(sentence)
    if (end - start < MIN_CLAUSE or sentence[start:].startswith(_NEEDS_SUBJECT)) and start > 0:
        start = max((sentence.rfind(p, 0, start - 1) for p in _CLAUSE_END), default=-1) + 1
    return start, end


def question_from(sentence: str) -> tuple[str, int, int] | None:
    """A question asking for the first number-with-unit or date in ``sentence``, and the fact's span.

    Only a whole sentence of running text counts: headlines (no closing 。！？), datelines,
    bylines and picture notes make none.
    """
    if not _SENTENCE_END.search(sentence.strip()) or _NOT_A_FACT.search(sentence):
        return None
    for pattern, ask in ((_COUNT, "多少"), (_DATE, "哪天")):
        match = pattern.search(sentence)
        if match is None:
            continue
        if pattern is _COUNT:  # 第５次 asks 第几次; 400余名 asks 多少名
            ask = ("几" if sentence[: match.start()].endswith("第") else "多少") + match.group(2)
        start, end = _clause(sentence, match.start(), match.end())
        clause = sentence[start : match.start()] + ask + sentence[match.end() : end]
        clause = clause.strip(" 　“”\"'")
        if MIN_CLAUSE <= len(clause) <= MAX_CLAUSE and not clause.startswith(_NEEDS_SUBJECT):
            return clause + "？", match.start(), match.end()
    return None


def made_questions(passages: Iterator[PassageRecord]) -> Iterator[MadeQuestion]:
    """Questions made from the passages' sentences, one per article, in the index's order."""
    done: set[str] = set()
    for p in passages:
        if p.article_id in done:
            continue
        for start, end, _ in p.sentences:
            made = question_from(p.text[start - p.start : end - p.start])
            if made is not None:
                done.add(p.article_id)
                yield MadeQuestion(made[0], p.article_id, start + made[1], start + made[2])
                break


def _answers(assistant: Assistant, question: str) -> list[tuple[str, int, int]] | None:
    """The quotes (article, start, end) the assistant answers with, or None when it refuses."""
    try:
        answer = assistant.ask(question)
    except AssistantError as exc:
        logger.info("example 「%s」 not shown: %s", question, exc)
        return None
    except Exception:  # noqa: BLE001 - an example is never worth failing to serve the chat for
        logger.warning("example 「%s」 not shown: asking it failed", question, exc_info=True)
        return None
    return [(q.article_id, q.start, q.end) for q in answer.quotes] if answer.answered else None


def listed_questions(assistant: Assistant) -> list[str]:
    """The questions the live index's articles list in their front matter, each once."""
    articles = assistant.index.articles.values()
    listed = [q.strip() for meta in articles for q in (meta.questions or "").split("|") if q.strip()]
    return list(dict.fromkeys(listed))


@dataclass(frozen=True)
class Example:
    """A question shown in the empty chat; ``made`` when it was made from a sentence's fact."""

    text: str
    made: MadeQuestion | None = None


def _holds(assistant: Assistant, example: Example) -> bool:
    """Whether the assistant answers ``example``, a made-up one with its fact in the first quote."""
    quotes = _answers(assistant, example.text)
    if example.made is None:
        return bool(quotes)
    made = example.made
    return any(a == made.article_id and s <= made.start and made.end <= e for a, s, e in (quotes or [])[:1])


def choose_examples(
    assistant: Assistant, wanted: int = WANTED, kept: list[Example] | None = None
) -> list[Example]:
    """Listed questions it answers, then made-up ones it answers right, after ``kept`` ones."""
    examples = list(kept or [])
    shown = {e.text for e in examples}
    for question in listed_questions(assistant)[:MAX_TRIES]:
        if question in shown or sum(e.made is None for e in examples) >= LISTED_LIMIT:
            continue
        if _holds(assistant, Example(question)):
            examples.append(Example(question))
    made = made_questions(iter(assistant.index.passages))
    for _, candidate in zip(range(MAX_TRIES), made, strict=False):
        if len(examples) >= wanted:
            break
        if candidate.text not in shown and _holds(assistant, Example(candidate.text, candidate)):
            examples.append(Example(candidate.text, candidate))
    return examples


class LiveExamples:
    """The examples to show, following the live index.

    Chosen when the app starts. When the index a question would be answered from is no longer
    the one they were checked on (an update from the Corpus tab, or ``assistant index update``
    beside the server), the shown ones are asked again; any no longer answered, or whose listing
    article is gone, are replaced, and newly listed questions are tried. Nothing is asked while
    the index stays the same.
    """

    def __init__(self, assistant: Assistant, wanted: int = WANTED) -> None:
        self.assistant = assistant
        self.wanted = wanted
        self._lock = threading.Lock()
        self._index = assistant.index
        self._listed = set(listed_questions(assistant))
        self._examples = choose_examples(assistant, wanted)

    def questions(self) -> list[str]:
        """The examples checked on the live index (re-checked first when it changed)."""
        if self.assistant.index is not self._index:
            with self._lock:  # one page re-checks them; pages opened meanwhile wait for its list
                index = self.assistant.index
                if index is not self._index:
                    self._recheck()
                    self._index = index
        return [e.text for e in self._examples]

    def _recheck(self) -> None:
        listed = set(listed_questions(self.assistant))
        # A listed one goes with the article listing it, even if another article could answer it.
        kept = [
            e
            for e in self._examples
            if (e.made is not None or e.text in listed) and _holds(self.assistant, e)
        ]
        if len(kept) < max(len(self._examples), self.wanted) or not listed <= self._listed:
            kept = choose_examples(self.assistant, self.wanted, kept)
        logger.info(
            "example questions re-checked on the new index: %d shown, were %d", len(kept), len(self._examples)
        )
        self._examples, self._listed = kept, listed
