"""Measure retrieval and quoting on a SQuAD-format dataset such as CMRC 2018.

Each context becomes an article in a temporary index. For every question the
gold passages are those of its context that contain a gold answer; we report
passage recall@1/5/20 and MRR@10, and whether a gold answer string appears in
the rank-1 quote or in the top-3 quotes, for hybrid, BM25-only and dense-only
retrieval in one run. For hybrid retrieval it also scores the answer span shown above the
first quote: the share of answered questions that show one, and CMRC 2018's official exact
match and character F1 over the spans shown.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from assistant.answer import Answerer, AnswerSettings
from assistant.config import Settings
from assistant.corpus import normalize_newlines, parse_article
from assistant.embedding import EmbedderLike
from assistant.errors import CorpusError
from assistant.indexing import index_articles, text_hash
from assistant.lexical import tokenize
from assistant.quoting import Candidate
from assistant.retrieval import MODES, Retriever
from assistant.span_metrics import char_f1, exact_match
from assistant.store import IndexData, load_index

METRICS = ("recall@1", "recall@5", "recall@20", "mrr@10", "answer_in_quote@1", "answer_in_quote@3")


@dataclass(frozen=True)
class Question:
    """One dataset question with its context (article) id and gold answers."""

    id: str
    article_id: str
    text: str
    answers: tuple[tuple[str, int], ...]


def load_squad(path: Path) -> tuple[list[Any], list[Question]]:
    """Articles (one per context) and questions from a SQuAD-format file.

    Contexts get the corpus's line-ending rule (``\r\n`` and ``\r`` → ``\n``), answer
    offsets moved with them.

    Raises:
        CorpusError: the file is not SQuAD-format JSON.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        articles, questions = [], []
        for doc in data:
            for n, para in enumerate(doc["paragraphs"]):
                article_id = para.get("id") or f"{doc.get('id', doc.get('title'))}-{n}"
                raw = para["context"]
                context = normalize_newlines(raw)
                articles.append(
                    parse_article(context, article_id, Path(article_id), "utf-8", text_hash(context))
                )
                articles[-1] = replace(articles[-1], title=doc.get("title") or article_id)
                for qa in para["qas"]:
                    answers = tuple(
                        (a["text"].strip(), _moved(raw, int(a.get("answer_start", -1))))
                        for a in qa["answers"]
                        if a["text"].strip()
                    )
                    if answers:
                        questions.append(Question(qa["id"], article_id, qa["question"], answers))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CorpusError(f"{path.name}: not a SQuAD-format JSON file ({what})") from exc
    if not questions:
        raise CorpusError(f"{path.name}: no answered questions in this SQuAD-format file")
    return articles, questions


def _moved(raw: str, start: int) -> int:
    """An offset into ``raw`` as an offset into its normalised text."""
    return len(normalize_newlines(raw[:start])) if start > 0 else start


def gold_passages(index: IndexData, question: Question, context: str) -> set[int]:
    """Passages of the question's context holding a whole gold answer (else overlapping one)."""
    spans = []
    for text, start in question.answers:
        if context[start : start + len(text)] != text:  # offsets shifted by stripped blanks
            start = context.find(text)
        if start >= 0:
            spans.append((start, start + len(text)))
    own = [index.passages[int(i)] for i in index.passages.rows_of({question.article_id})]
    inside = {p.id for p in own for s, e in spans if p.start <= s and e <= p.end}
    return inside or {p.id for p in own for s, e in spans if p.start < e and s < p.end}


def candidate_row(candidate: Candidate, answers: list[str]) -> dict[str, Any]:
    """One candidate quote's features and label, for bench/tune_quotes.py."""
    return {
        "features": candidate.features,
        "article_id": candidate.hit.passage.article_id,
        "start": candidate.start,
        "end": candidate.end,
        "has_answer": any(a in candidate.text for a in answers),
        "text": candidate.text,
    }


def candidates_without(
    answerer: Answerer, question: str, vector: np.ndarray, terms: list[str], article_id: str
) -> list[Candidate]:
    """The question's candidates from the index as if its own article were not in it.

    Asked without its article, an answerable question is unanswerable: the refusals that
    calibrate abstention, far more of them than any set's hand-written negatives.
    """
    hits = answerer.retriever.search(question, k=40, query_vector=vector, query_tokens=terms)
    others = [h for h in hits if h.passage.article_id != article_id]
    return answerer.candidates(question, others, vector, terms)


def evaluate(
    dataset: Path,
    embedder: EmbedderLike,
    settings: Settings,
    index_dir: Path | None = None,
    limit: int | None = None,
    weights: AnswerSettings | None = None,
    dump: Path | None = None,
) -> dict[str, Any]:
    """Run every question through every mode and average the metrics.

    Args:
        dataset: SQuAD-format JSON.
        embedder: the model to evaluate.
        settings: chunking settings (paths are ignored).
        index_dir: keep the evaluation index here (its vectors are reused next
            time); a temporary folder by default.
        limit: evaluate only the first ``limit`` questions.
        weights: quote-scoring weights, the defaults if None.
        dump: write each question's hybrid sentence candidates here (JSON lines),
            for tuning the quote weights.
    """
    articles, questions = load_squad(dataset)
    questions = questions[:limit] if limit else questions
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        folder = index_dir or Path(tmp)
        eval_settings = replace(settings, index_dir=folder)
        index_articles(articles, eval_settings, embedder, show_progress=True)
        index = load_index(folder)
    contexts = {a.id: a.text for a in articles}
    answerer = Answerer(Retriever(index, embedder), weights)
    totals = {mode: dict.fromkeys(METRICS, 0.0) for mode in MODES}
    spans = {"answered": 0, "shown": 0, "em": 0.0, "f1": 0.0}
    dump_file = open(dump, "w", encoding="utf-8") if dump else None  # noqa: SIM115
    try:
        for q in tqdm(questions, desc="questions", unit="q"):
            gold = gold_passages(index, q, contexts[q.article_id])
            vector = answerer.retriever.embed_question(q.text)
            terms = tokenize(q.text)
            answers = [a for a, _ in q.answers]
            for mode in MODES:
                hits = answerer.retriever.search(
                    q.text, k=20, mode=mode, query_vector=vector, query_tokens=terms
                )
                ranks = [r for r, h in enumerate(hits, 1) if h.passage.id in gold]
                first = ranks[0] if ranks else None
                m = totals[mode]
                for k in (1, 5, 20):
                    m[f"recall@{k}"] += first is not None and first <= k
                m["mrr@10"] += 1 / first if first and first <= 10 else 0.0
                candidates = answerer.candidates(q.text, hits, vector, terms)
                reply = answerer.compose(q.text, candidates, [])
                quotes = [x.quote for x in reply.quotes]
                m["answer_in_quote@1"] += any(a in quotes[0] for a in answers) if quotes else 0
                m["answer_in_quote@3"] += any(a in x for a in answers for x in quotes[:3])
                if mode == "hybrid" and reply.answered:
                    spans["answered"] += 1
                    if reply.answer_span:
                        spans["shown"] += 1
                        spans["em"] += exact_match(reply.answer_span.text, answers)
                        spans["f1"] += char_f1(reply.answer_span.text, answers)
                if dump_file and mode == "hybrid":
                    unanswerable = candidates_without(answerer, q.text, vector, terms, q.article_id)
                    dump_file.write(
                        json.dumps(
                            {
                                "id": q.id,
                                "question": q.text,
                                "answerable": True,
                                "article_id": q.article_id,
                                "candidates": [candidate_row(c, answers) for c in candidates],
                                "unanswerable": [candidate_row(c, answers) for c in unanswerable],
                            },
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
    finally:
        if dump_file:
            dump_file.close()
    n = max(len(questions), 1)
    result: dict[str, Any] = {mode: {k: round(v / n, 4) for k, v in totals[mode].items()} for mode in MODES}
    result["questions"] = len(questions)
    result["span"] = span_summary(spans)
    return result


def span_summary(spans: dict[str, float]) -> dict[str, float]:
    """The answer-span figures: shown share of answered questions, EM and F1 over the shown."""
    shown = spans["shown"]
    return {
        "answered": int(spans["answered"]),
        "shown": int(shown),
        "shown_share": round(shown / spans["answered"], 4) if spans["answered"] else 0.0,
        "exact_match": round(spans["em"] / shown, 4) if shown else 0.0,
        "f1": round(spans["f1"] / shown, 4) if shown else 0.0,
    }
