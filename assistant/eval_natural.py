"""Measure the assistant on natural questions: a corpus folder plus a JSONL of questions.

The format is that of ``../shared/datasets/natural-news``: ``articles/`` holds one
article a file, and each line of ``questions.jsonl`` is
``{"question", "answers", "article", "style"}``. A question with no answers is a
negative: the articles do not answer it, and the right reply is a refusal.

Every answerable miss is put down to the stage that lost it:

- **retrieval**: no passage among those quoted from (the top ``passages``) holds an answer;
- **sentence**: one does, but the first quote (abstention aside) does not;
- **abstention**: the first quote holds the answer, but the assistant refused.

The answer span shown above the first quote counts as right when it contains or equals a
gold answer string.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.embedding import EmbedderLike
from assistant.errors import CorpusError
from assistant.evaluate import candidate_row, candidates_without
from assistant.indexing import update_index
from assistant.lexical import tokenize
from assistant.quoting import Candidate
from assistant.retrieval import Retriever
from assistant.store import load_index

NEGATIVE = "negative"


@dataclass(frozen=True)
class NaturalQuestion:
    """One question; ``answers`` is empty for a negative."""

    id: str
    text: str
    answers: tuple[str, ...]
    article: str | None
    style: str


def locate(dataset: Path, corpus: Path | None = None) -> tuple[Path, Path]:
    """The questions file and the article folder of a natural-question dataset.

    ``dataset`` is the dataset folder (``questions.jsonl`` and ``articles/`` inside) or
    the JSONL file itself, whose articles are in ``corpus`` or else beside it in ``articles/``.

    Raises:
        CorpusError: either part is missing.
    """
    questions = dataset / "questions.jsonl" if dataset.is_dir() else dataset
    articles = corpus or questions.parent / "articles"
    if not questions.is_file():
        raise CorpusError(f"{dataset}: no questions.jsonl in this folder")
    if not articles.is_dir():
        raise CorpusError(f"{questions}: no article folder {articles}; give one with --corpus")
    return questions, articles


def load_questions(path: Path) -> list[NaturalQuestion]:
    """The questions of a JSONL file, one object a line.

    Raises:
        CorpusError: a line is not such an object, naming the line.
    """
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read the questions ({exc})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = tuple(row.get("answers") or ())
            # A string for the list would be scored by its characters: any one of them "holds".
            if not isinstance(row["question"], str) or not row["question"].strip():
                raise TypeError("'question' must be a non-empty text")
            if not isinstance(row.get("answers") or [], list) or not all(isinstance(a, str) for a in answers):
                raise TypeError("'answers' must be a list of texts")
            if not isinstance(row.get("article"), str | None):
                raise TypeError("'article' must be a file name or null")
            out.append(
                NaturalQuestion(
                    id=str(row.get("id") or f"line-{number}"),
                    text=row["question"],
                    answers=answers,
                    article=row.get("article"),
                    style=str(row.get("style") or ("answerable" if answers else NEGATIVE)),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorpusError(
                f"{path}, line {number}: not a {{question, answers, article, style}} object ({exc})"
            ) from exc
    if not out:
        raise CorpusError(f"{path}: no questions in the file")
    return out


def holds(text: str, answers: tuple[str, ...]) -> bool:
    """The dataset's test: a plain substring match of any answer string."""
    return any(a in text for a in answers)


@dataclass(frozen=True)
class Outcome:
    """What happened to one question."""

    question: NaturalQuestion
    answered: bool
    first: bool
    top3: bool
    unrefused_first: bool
    retrieved: bool
    answerable: float
    span: str | None = None


def outcomes(answerer: Answerer, questions: list[NaturalQuestion], dump: Any = None) -> Iterator[Outcome]:
    """Ask every question as the assistant would, and record where it succeeded or failed.

    With ``dump`` (an open text file), each question's candidate quotes and their
    features are written to it as a JSON line, for ``bench/tune_quotes.py``.
    """
    for q in tqdm(questions, desc="questions", unit="q"):
        terms = tokenize(q.text)
        vector = answerer.retriever.embed_question(q.text)
        hits = answerer.retrieve(q.text, terms, vector)
        candidates = answerer.candidates(q.text, hits, vector, terms)
        reply = answerer.compose(q.text, candidates, [])
        unrefused = reply if reply.answered else answerer.compose(q.text, candidates, [], abstain=False)
        quotes = [x.quote for x in reply.quotes]
        yield Outcome(
            question=q,
            answered=reply.answered,
            first=bool(quotes) and holds(quotes[0], q.answers),
            top3=any(holds(x, q.answers) for x in quotes[:3]),
            unrefused_first=bool(unrefused.quotes) and holds(unrefused.quotes[0].quote, q.answers),
            retrieved=any(holds(h.passage.text, q.answers) for h in hits[: answerer.weights.passages]),
            answerable=reply.answerable,
            span=reply.answer_span.text if reply.answer_span else None,
        )
        if dump is not None:
            unanswerable = candidates_without(answerer, q.text, vector, terms, q.article) if q.article else []
            dump.write(json.dumps(dump_row(q, candidates, unanswerable), ensure_ascii=False) + "\n")


def dump_row(
    q: NaturalQuestion, candidates: list[Candidate], unanswerable: list[Candidate]
) -> dict[str, Any]:
    """One question's candidates with their features and labels, for refitting."""
    return {
        "id": q.id,
        "question": q.text,
        "style": q.style,
        "article_id": q.article or "",
        "answerable": bool(q.answers),
        "candidates": [candidate_row(c, list(q.answers)) for c in candidates],
        "unanswerable": [candidate_row(c, list(q.answers)) for c in unanswerable],
    }


def summarise(results: list[Outcome]) -> dict[str, Any]:
    """Per style: first-quote and top-3 hits and the answered share; refusals of negatives;
    for all answerable questions, where the misses were lost."""

    def share(flags: list[bool]) -> float:
        return round(sum(flags) / len(flags), 4) if flags else 0.0

    styles: dict[str, dict[str, Any]] = {}
    for style in dict.fromkeys(r.question.style for r in results):
        rows = [r for r in results if r.question.style == style]
        if style == NEGATIVE:
            styles[style] = {"n": len(rows), "refused": share([not r.answered for r in rows])}
            continue
        styles[style] = {
            "n": len(rows),
            "answer_in_quote@1": share([r.first for r in rows]),
            "answer_in_quote@3": share([r.top3 for r in rows]),
            "answered": share([r.answered for r in rows]),
            "unrefused_quote@1": share([r.unrefused_first for r in rows]),
        }
    answerable = [r for r in results if r.question.answers]
    negatives = [r for r in results if not r.question.answers]
    refused_negatives = sum(not r.answered for r in negatives)
    refused = refused_negatives + sum(not r.answered for r in answerable)
    answered = [r for r in answerable if r.answered]
    shown = [r for r in answered if r.span is not None]
    return {
        "questions": len(results),
        "span": {
            "answered": len(answered),
            "shown": len(shown),
            "shown_share": share([r.span is not None for r in answered]),
            "contains_answer": share([holds(r.span or "", r.question.answers) for r in shown]),
            "shown_on_negatives": sum(r.answered and r.span is not None for r in negatives),
        },
        "answerable": {
            "n": len(answerable),
            "answer_in_quote@1": share([r.first for r in answerable]),
            "answer_in_quote@3": share([r.top3 for r in answerable]),
            "answered": share([r.answered for r in answerable]),
            "unrefused_quote@1": share([r.unrefused_first for r in answerable]),
            "retrieved": share([r.retrieved for r in answerable]),
            "lost_in": {
                "retrieval": sum(not r.retrieved for r in answerable),
                "sentence": sum(r.retrieved and not r.unrefused_first for r in answerable),
                "abstention": sum(r.unrefused_first and not r.answered for r in answerable),
            },
        },
        "abstention": {
            "negatives": len(negatives),
            "precision": round(refused_negatives / refused, 4) if refused else 1.0,
            "recall": share([not r.answered for r in negatives]),
        },
        "styles": styles,
    }


def evaluate_natural(
    dataset: Path,
    embedder: EmbedderLike,
    settings: Settings,
    corpus: Path | None = None,
    index_dir: Path | None = None,
    limit: int | None = None,
    dump: Path | None = None,
) -> dict[str, Any]:
    """Index the dataset's articles, ask every question, and summarise by style.

    Args:
        dataset: the dataset folder, or its questions JSONL.
        embedder: the model to evaluate.
        settings: chunking settings (paths are replaced).
        corpus: the article folder, when not ``articles/`` beside the questions.
        index_dir: keep the index here (an update reuses it next time); a temporary folder by default.
        limit: only the first ``limit`` questions.
        dump: write each question's candidate quotes here (JSON lines), for refitting.
    """
    questions_path, articles = locate(dataset, corpus)
    questions = load_questions(questions_path)[: limit or None]
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        folder = index_dir or Path(tmp)
        update_index(replace(settings, corpus_dir=articles, index_dir=folder), embedder, show_progress=True)
        index = load_index(folder)
    answerer = Answerer(Retriever(index, embedder))
    with open(dump, "w", encoding="utf-8") if dump else contextlib.nullcontext() as dump_file:
        return summarise(list(outcomes(answerer, questions, dump_file)))
