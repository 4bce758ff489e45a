"""Readers' votes on answers, kept as a JSONL log that becomes test cases.

``assistant serve --feedback on`` shows 👍/👎 on every answer. Each vote is one
line of ``feedback.jsonl`` in the index folder (:func:`feedback_path`)::

    {"id", "time", "vote": "up"|"down", "question", "history", "answered",
     "quotes": [{"article_id", "start", "end", "quote"}], "note", "correction", "no_answer"}

A vote's note arrives later than the vote: it is appended as another line with
the same ``id`` and only the fields it sets, and :func:`read_votes` merges them.
Nothing else is stored: no address, cookie or account. A write that fails is
logged and the chat goes on.

:func:`export_cases` turns the votes that say what the right reply is into the
natural-question eval format (``assistant eval --dataset FILE --corpus …``): a
correction copied from an article makes an answerable case, "the articles hold
no answer" makes a negative.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.answer import Answer
from assistant.store import PassageRecord, stitch

logger = logging.getLogger(__name__)

FEEDBACK_FILE = "feedback.jsonl"
# Recent answers a vote can still name by their text: a reader votes within a few turns.
REMEMBERED_ANSWERS = 4096
MAX_NOTE_CHARS = 2000
UP, DOWN = "up", "down"


def feedback_path(index_dir: Path) -> Path:
    """Where the votes of the index in ``index_dir`` are kept."""
    return index_dir / FEEDBACK_FILE


def answer_key(markdown: str) -> str:
    """The key a shown answer is remembered by: a hash of the markdown the chat shows."""
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()


class RecentAnswers:
    """The last answers shown, by :func:`answer_key`, so a vote can record their quotes."""

    def __init__(self, size: int = REMEMBERED_ANSWERS) -> None:
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def remember(self, shown: str, answer: Answer) -> None:
        """Keep ``answer``, shown as the markdown ``shown``, forgetting the oldest beyond the size."""
        key = answer_key(shown)
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)

    def find(self, markdown: str) -> Answer | None:
        """The answer shown as ``markdown``, if it is still remembered."""
        with self._lock:
            return self._answers.get(answer_key(markdown))


def vote_record(
    vote: str, question: str, history: list[str], answer: Answer | None, shown: str
) -> dict[str, Any]:
    """A new vote's line: the question, the earlier turns, and what was answered."""
    quotes = []
    if answer is not None:
        quotes = [
            {"article_id": q.article_id, "start": q.start, "end": q.end, "quote": q.quote}
            for q in answer.quotes
        ]
    return {
        "id": uuid.uuid4().hex,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "vote": vote,
        "question": question,
        "history": history,
        # Without the remembered answer, a reply with no quote block was a refusal.
        "answered": answer.answered if answer is not None else "> " in shown,
        "quotes": quotes,
    }


class FeedbackLog:
    """Appends vote lines to one file; a failure is logged, never raised."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> bool:
        """Append one line; False (and a warning) when it could not be written."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as exc:
            logger.warning("could not record feedback in %s: %s", self.path, exc.strerror or exc)
            return False
        return True


def note_record(vote_id: str, note: str, correction: str, no_answer: bool) -> dict[str, Any]:
    """The later line that adds a reader's note to vote ``vote_id``."""
    return {
        "id": vote_id,
        "note": note.strip()[:MAX_NOTE_CHARS],
        "correction": correction.strip()[:MAX_NOTE_CHARS],
        "no_answer": bool(no_answer),
    }


@dataclass
class ReadResult:
    """The merged votes, oldest first, and how many lines could not be read."""

    votes: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: int = 0


def read_votes(path: Path) -> ReadResult:
    """Every vote in ``path`` with its note merged in; unreadable lines are counted, not fatal."""
    result = ReadResult()
    by_id: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return result
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                vote_id = str(record["id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                result.bad_lines += 1
                continue
            if vote_id in by_id:
                by_id[vote_id].update(record)
            elif "vote" in record:
                by_id[vote_id] = record
                result.votes.append(record)
            else:  # a note whose vote line was lost
                result.bad_lines += 1
    return result


@dataclass
class Export:
    """What :func:`export_cases` wrote and what it could not turn into a case, with why."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def export_cases(votes: Iterable[dict[str, Any]], find_article: Callable[[str], str | None]) -> Export:
    """Eval cases from the votes that say what the right reply is.

    Args:
        votes: merged votes (:func:`read_votes`).
        find_article: the id of an article whose text holds a string, or None.
    """
    out = Export()
    for vote in votes:
        correction = str(vote.get("correction") or "")
        case = {"id": f"fb-{vote['id'][:12]}", "question": vote.get("question", "")}
        if correction:
            article = find_article(correction)
            if article is None:
                out.skipped.append((vote, "its correction is not text of any indexed article"))
                continue
            out.cases.append({**case, "answers": [correction], "article": article, "style": "feedback"})
        elif vote.get("no_answer"):
            out.cases.append({**case, "answers": [], "article": None, "style": "negative"})
        elif vote.get("vote") == DOWN:
            out.skipped.append((vote, "👎 without a correction or 'no answer'"))
    return out


def article_texts(passages: Iterable[PassageRecord]) -> Iterator[tuple[str, str]]:
    """(article id, text) of every indexed article, pieced together from its passages."""
    by_article: dict[str, list[PassageRecord]] = {}
    for p in passages:
        by_article.setdefault(p.article_id, []).append(p)
    for article_id, held in by_article.items():
        yield article_id, stitch(held)[1]


def article_finder(texts: Iterable[tuple[str, str]]) -> Callable[[str], str | None]:
    """A lookup of the first article (id, text pairs) whose text contains a string."""
    articles = list(texts)

    def find(needle: str) -> str | None:
        return next((article_id for article_id, text in articles if needle in text), None)

    return find


def summary_lines(votes: list[dict[str, Any]]) -> Iterator[str]:
    """One line per vote for ``assistant feedback``: time, vote, question, first quote, note."""
    for vote in votes:
        mark = "👍" if vote.get("vote") == UP else "👎"
        first = vote.get("quotes") or [{}]
        quoted = f" → {first[0].get('article_id')}:{first[0].get('start')}" if first[0] else " → (拒答)"
        extra = "".join(
            f" | {label}{vote[key]}"
            for key, label in (("correction", "正确答案："), ("note", "备注："))
            if vote.get(key)
        )
        if vote.get("no_answer"):
            extra += " | 文章中没有答案"
        yield f"{vote.get('time', '')} {mark} {vote.get('question', '')}{quoted}{extra}"
