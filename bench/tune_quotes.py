"""Fit the quote model and the answerability model on a mixture of eval dumps.

Usage::

    assistant eval --dataset ../shared/datasets/cmrc2018/cmrc2018_trial.json --dump-candidates bench/out/cmrc.jsonl
    assistant eval --dataset bench/out/drcd300.json --dump-candidates bench/out/drcd.jsonl
    assistant eval --dataset ../shared/datasets/natural-news --dump-candidates bench/out/nn1.jsonl
    assistant eval --dataset ../shared/datasets/natural-news-2 --dump-candidates bench/out/nn2.jsonl
    python bench/tune_quotes.py bench/out/cmrc.jsonl bench/out/drcd.jsonl bench/out/nn1.jsonl \\
        bench/out/nn2.jsonl --write

Two logistic models, cross-validated in five folds split by article, so that every
reported figure comes from weights that never saw that article:

1. the quote model (features in assistant/quoting.py; label: the candidate quote
   contains a gold answer), which ranks the quotes;
2. the answerability model over the question-level evidence (quoting.EVIDENCE),
   fitted on the answerable questions (label 1), the negatives, and every
   answerable question asked of the index without its own article (label 0).

Each dump's name (its file stem) names its dataset in the report. With ``--write``
the models are refitted on everything and written to assistant/quote_model.json,
with the abstention threshold and the 高/中/低 thresholds.
"""

from __future__ import annotations

import argparse
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.quoting import EVIDENCE, FEATURES, MODEL_FILE, is_foreign

FOLDS = 5


@dataclass
class Question:
    dataset: str
    id: str
    text: str
    style: str
    group: str
    answerable: bool
    candidates: list[dict]
    unanswerable: list[dict]


def load(paths: Iterable[str]) -> list[Question]:
    out = []
    for path in paths:
        name = Path(path).stem
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                r = json.loads(line)
                answerable = r.get("answerable", True)
                out.append(
                    Question(
                        dataset=name,
                        id=r["id"],
                        text=r["question"],
                        style=r.get("style") or name,
                        group=f"{name}:{r['article_id'] or r['id']}",
                        answerable=answerable,
                        candidates=r["candidates"],
                        unanswerable=r.get("unanswerable") or [],
                    )
                )
    return out


def fit(x: np.ndarray, y: np.ndarray, sample: np.ndarray, l2: float, steps: int = 40) -> np.ndarray:
    """Weighted logistic regression by Newton's method; returns (intercept, weights...)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    penalty = l2 * np.eye(len(w))
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (sample * (p - y)) + penalty @ w
        hess = (xb * (sample * p * (1 - p))[:, None]).T @ xb + penalty + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def probabilities(w: np.ndarray, feats: list | np.ndarray) -> np.ndarray:
    if len(feats) == 0:
        return np.zeros(0)
    z = w[0] + np.asarray(feats, dtype=float) @ w[1:]
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


def pick(rows: list[dict], probs: np.ndarray, k: int = 3, min_quote: float = 0.02) -> list[dict]:
    """Greedy non-overlapping top-k with the further-quote cut, as Answerer.compose does."""
    chosen: list[dict] = []
    order = np.argsort(-probs, kind="stable")
    for i in order:
        c = rows[i]
        if chosen and probs[i] < max(min_quote, probs[order[0]] / 10):
            break
        if any(
            o["article_id"] == c["article_id"] and o["start"] < c["end"] and c["start"] < o["end"]
            for o in chosen
        ):
            continue
        chosen.append(c)
        if len(chosen) == k:
            break
    return chosen


def weight_of(q: Question, natural_weight: float) -> float:
    return (
        natural_weight
        if q.style not in ("cmrc", "drcd") and not q.dataset.startswith(("cmrc", "drcd"))
        else 1.0
    )


def train_quotes(questions: list[Question], natural_weight: float, l2: float) -> np.ndarray:
    rows, labels, sample = [], [], []
    for q in questions:
        if not q.answerable:
            continue
        share = weight_of(q, natural_weight) / max(len(q.candidates), 1)
        for r in q.candidates:
            rows.append(r["features"])
            labels.append(float(r["has_answer"]))
            sample.append(share * 20)
    return fit(np.asarray(rows, float), np.asarray(labels), np.asarray(sample), l2)


def evidence(q: Question, rows: list[dict], w: np.ndarray) -> list[float]:
    """Question-level evidence, in the order of quoting.EVIDENCE."""
    foreign = float(is_foreign(q.text))
    if not rows:
        return [0.0, 0.0, 0.0, -0.8, foreign]
    feats = np.asarray([r["features"] for r in rows], dtype=float)
    return [float(probabilities(w, feats).max()), *(float(feats[:, i].max()) for i in range(3)), foreign]


def answerable_rows(questions: list[Question], w: np.ndarray, natural_weight: float) -> tuple:
    x, y, sample = [], [], []
    for q in questions:
        wq = weight_of(q, natural_weight)
        if q.answerable:
            x.append(evidence(q, q.candidates, w))
            y.append(1.0)
            sample.append(wq)
            if q.unanswerable:
                x.append(evidence(q, q.unanswerable, w))
                y.append(0.0)
                sample.append(wq)
        else:
            x.append(evidence(q, q.candidates, w))
            y.append(0.0)
            sample.append(wq * 3)  # the hand-written negatives are the refusals that matter
    return np.asarray(x), np.asarray(y), np.asarray(sample)


def train_answerable(
    questions: list[Question], w: np.ndarray, natural_weight: float, l2: float
) -> np.ndarray:
    x, y, sample = answerable_rows(questions, w, natural_weight)
    return fit(x, y, sample, l2)


@dataclass
class Result:
    q: Question
    answerable_p: float
    top_p: float
    first: bool
    top3: bool


def predict(q: Question, w: np.ndarray, a: np.ndarray) -> Result:
    rows = q.candidates
    if not rows:
        return Result(q, 0.0, 0.0, False, False)
    probs = probabilities(w, [r["features"] for r in rows])
    top = pick(rows, probs)
    p_answer = float(probabilities(a, [evidence(q, rows, w)])[0])
    return Result(
        q, p_answer, float(probs.max()), bool(top[0]["has_answer"]), any(r["has_answer"] for r in top)
    )


def cross_validate(questions: list[Question], natural_weight: float, l2: float) -> list[Result]:
    fold_of = {q.group: zlib.crc32(q.group.encode()) % FOLDS for q in questions}
    results = []
    for f in range(FOLDS):
        train = [q for q in questions if fold_of[q.group] != f]
        test = [q for q in questions if fold_of[q.group] == f]
        w = train_quotes(train, natural_weight, l2)
        a = train_answerable(train, w, natural_weight, l2)
        results += [predict(q, w, a) for q in test]
    return results


def report(results: list[Result], threshold: float, datasets: list[str]) -> None:
    print(f"\n== abstain below {threshold} (five-fold CV by article) ==")
    print(f"{'dataset':<8}{'style':<14}{'n':>5}{'quote@1':>9}{'quote@3':>9}{'answered':>10}{'refused':>9}")
    for name in datasets:
        rows = [r for r in results if r.q.dataset == name]
        for style in sorted({r.q.style for r in rows}):
            s = [r for r in rows if r.q.style == style]
            answered = [r.answerable_p >= threshold for r in s]
            if not s[0].q.answerable:
                print(f"{name:<8}{style:<14}{len(s):>5}{'':>28}{1 - np.mean(answered):>9.3f}")
                continue
            at1 = np.mean([r.first and ok for r, ok in zip(s, answered, strict=True)])
            at3 = np.mean([r.top3 and ok for r, ok in zip(s, answered, strict=True)])
            print(f"{name:<8}{style:<14}{len(s):>5}{at1:>9.3f}{at3:>9.3f}{np.mean(answered):>10.3f}")
        s = [r for r in rows if r.q.answerable]
        answered = [r.answerable_p >= threshold for r in s]
        at1 = np.mean([r.first and ok for r, ok in zip(s, answered, strict=True)])
        at3 = np.mean([r.top3 and ok for r, ok in zip(s, answered, strict=True)])
        unrefused = np.mean([r.first for r in s])
        print(
            f"{name:<8}{'ANSWERABLE':<14}{len(s):>5}{at1:>9.3f}{at3:>9.3f}{np.mean(answered):>10.3f}"
            f"   (no refusal: quote@1 {unrefused:.3f})"
        )


def calibration(results: list[Result], cuts: dict[str, float]) -> None:
    print("\nfirst quote holds the answer, by label (answered, answerable questions):")
    for name in sorted({r.q.dataset for r in results}):
        line = f"{name:<8}"
        for label, (lo, hi) in bands(cuts).items():
            s = [r.first for r in results if r.q.dataset == name and r.q.answerable and lo <= r.top_p < hi]
            line += f"  {label} {np.mean(s) if s else float('nan'):.2f} (n={len(s)})"
        print(line)


def bands(cuts: dict[str, float]) -> dict[str, tuple[float, float]]:
    high, mid = cuts["高"], cuts["中"]
    return {"高": (high, 2.0), "中": (mid, high), "低": (-1.0, mid)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dumps", nargs="+")
    parser.add_argument("--natural-weight", type=float, default=3.0)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--threshold", type=float, default=None, help="the abstention threshold to write")
    parser.add_argument("--high", type=float, default=0.7)
    parser.add_argument("--mid", type=float, default=0.3)
    parser.add_argument("--write", action="store_true", help="refit on everything and write quote_model.json")
    args = parser.parse_args()
    questions = load(args.dumps)
    datasets = list(dict.fromkeys(q.dataset for q in questions))
    results = cross_validate(questions, args.natural_weight, args.l2)
    for threshold in (0.0, 0.3, 0.4, 0.5, 0.6) if args.threshold is None else (args.threshold,):
        report(results, threshold, datasets)
    calibration(results, {"高": args.high, "中": args.mid})
    if not args.write:
        return
    w = train_quotes(questions, args.natural_weight, args.l2)
    a = train_answerable(questions, w, args.natural_weight, args.l2)
    model = {
        "fitted_by": "bench/tune_quotes.py " + " ".join(Path(d).name for d in args.dumps),
        "quote": {
            "intercept": round(w[0], 4),
            "weights": {n: round(float(v), 4) for n, v in zip(FEATURES, w[1:], strict=True)},
        },
        "answerable": {
            "intercept": round(a[0], 4),
            "weights": {n: round(float(v), 4) for n, v in zip(EVIDENCE, a[1:], strict=True)},
        },
        "abstain_below": args.threshold if args.threshold is not None else 0.4,
        "confidence": {"高": args.high, "中": args.mid},
    }
    MODEL_FILE.write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":
    main()
