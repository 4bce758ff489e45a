"""Fit the quote model and the answerability model from an eval dump.

Usage::

    assistant eval --dataset ../shared/datasets/cmrc2018/cmrc2018_trial.json \\
        --dump-candidates bench/out/candidates.jsonl
    python bench/tune_quotes.py bench/out/candidates.jsonl

Two logistic models, both with two-fold cross-validation split by context so
that every reported figure comes from weights that never saw that context:

1. the quote model (features in assistant/quoting.py; label: the candidate
   quote contains a gold answer), which ranks the quotes;
2. the answerability model over the question-level evidence (the top quote's
   probability and the best word overlap, bigram overlap and e5 similarity of
   any candidate), fitted on each question asked of the full index
   (answerable) and of the index without its context (unanswerable).

Prints the weights for assistant/quoting.py's QUOTE_* and ANSWERABLE_*, and the
abstention precision/recall at the thresholds considered.
"""

from __future__ import annotations

import json
import sys
import zlib

import numpy as np

from assistant.quoting import FEATURES


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 60) -> np.ndarray:
    """Logistic regression by Newton's method; returns (intercept, weights...)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + l2 * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def probabilities(w: np.ndarray, feats: list[list[float]] | np.ndarray) -> np.ndarray:
    if len(feats) == 0:
        return np.zeros(0)
    z = w[0] + np.asarray(feats) @ w[1:]
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


def pick(rows: list[dict], probs: np.ndarray, k: int) -> list[dict]:
    """Greedy non-overlapping top-k, as Answerer.compose does."""
    chosen: list[dict] = []
    for i in np.argsort(-probs, kind="stable"):
        c = rows[i]
        if any(
            o["article_id"] == c["article_id"] and o["start"] < c["end"] and c["start"] < o["end"]
            for o in chosen
        ):
            continue
        chosen.append(c)
        if len(chosen) == k:
            break
    return chosen


def train_quotes(questions: list[dict]) -> np.ndarray:
    rows = [r for q in questions for r in q["candidates"]]
    return fit(np.asarray([r["features"] for r in rows]), np.asarray([r["has_answer"] for r in rows], float))


def evidence(rows: list[dict], w: np.ndarray) -> list[float]:
    """Question-level features, in the order of quoting.answerability."""
    if not rows:
        return [0.0, 0.0, 0.0, -0.8]
    feats = np.asarray([r["features"] for r in rows])
    return [float(probabilities(w, feats).max()), *(float(feats[:, i].max()) for i in range(3))]


def train_answerable(questions: list[dict], w: np.ndarray) -> np.ndarray:
    x = [evidence(q["candidates"], w) for q in questions] + [
        evidence(q["unanswerable"], w) for q in questions
    ]
    y = [1.0] * len(questions) + [0.0] * len(questions)
    return fit(np.asarray(x), np.asarray(y))


def evaluate_fold(test: list[dict], w: np.ndarray, a: np.ndarray, threshold: float) -> dict[str, float]:
    at1 = at3 = refused_answerable = refused_unanswerable = 0
    for q in test:
        rows = q["candidates"]
        answerable = probabilities(a, [evidence(rows, w)])[0] >= threshold
        refused_answerable += not answerable
        refused_unanswerable += probabilities(a, [evidence(q["unanswerable"], w)])[0] < threshold
        if answerable and rows:
            top = pick(rows, probabilities(w, [r["features"] for r in rows]), 3)
            at1 += top[0]["has_answer"]
            at3 += any(r["has_answer"] for r in top)
    return {
        "answer_in_quote@1": at1,
        "answer_in_quote@3": at3,
        "refused_answerable": refused_answerable,
        "refused_unanswerable": refused_unanswerable,
    }


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        questions = [json.loads(line) for line in handle]
    folds = [[q for q in questions if zlib.crc32(q["article_id"].encode()) % 2 == f] for f in (0, 1)]
    oracle = np.mean([any(r["has_answer"] for r in q["candidates"]) for q in questions])
    print(f"questions {len(questions)}; some candidate holds the answer for {oracle:.4f}")
    print("answerable threshold (0 = never abstain), 2-fold CV by context:")
    print("threshold  quote@1  quote@3  abstention precision  abstention recall")
    for threshold in (0.0, 0.3, 0.4, 0.5, 0.6):
        totals: dict[str, float] = {}
        for f in (0, 1):
            w = train_quotes(folds[f])
            a = train_answerable(folds[f], w)
            for key, value in evaluate_fold(folds[1 - f], w, a, threshold).items():
                totals[key] = totals.get(key, 0) + value
        n = len(questions)
        refused = totals["refused_answerable"] + totals["refused_unanswerable"]
        precision = totals["refused_unanswerable"] / refused if refused else 1.0
        print(
            f"{threshold:9.2f}  {totals['answer_in_quote@1'] / n:.4f}   {totals['answer_in_quote@3'] / n:.4f}"
            f"   {precision:.4f}                {totals['refused_unanswerable'] / n:.4f}"
        )
    w = train_quotes(questions)
    a = train_answerable(questions, w)
    print(f"QUOTE_INTERCEPT = {w[0]:.3f}")
    print("QUOTE_WEIGHTS =", {name: round(float(v), 3) for name, v in zip(FEATURES, w[1:], strict=True)})
    print(f"ANSWERABLE_INTERCEPT = {a[0]:.3f}")
    names = ("top_quote", "words", "bigrams", "dense")
    print("ANSWERABLE_WEIGHTS =", {name: round(float(v), 3) for name, v in zip(names, a[1:], strict=True)})


if __name__ == "__main__":
    main(sys.argv[1])
