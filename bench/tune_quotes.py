"""Fit the quote model and the answerability model on a mixture of eval dumps.

Usage::

    assistant eval --dataset ../shared/datasets/cmrc2018/cmrc2018_trial.json --dump-candidates bench/out/cmrc.jsonl
    python bench/squad_subset.py ../shared/datasets/drcd/DRCD_test.json 120 bench/out/drcd.json
    assistant eval --dataset bench/out/drcd.json --dump-candidates bench/out/drcd.jsonl
    assistant eval --dataset ../shared/datasets/natural-news --dump-candidates bench/out/nn1.jsonl
    assistant eval --dataset ../shared/datasets/natural-news-2 --dump-candidates bench/out/nn2.jsonl
    python bench/tune_quotes.py bench/out/cmrc.jsonl bench/out/drcd.jsonl bench/out/nn1.jsonl \\
        bench/out/nn2.jsonl --write

Three models, cross-validated in five folds split by article, so that every
reported figure comes from weights that never saw that article:

1. the quote ranker (features in assistant/quoting.py), a conditional logit: the
   softmax over a question's candidates is fitted to give the candidates that hold
   a gold answer the largest share. Features are standardised for the fit, so one
   L2 penalty suits them all, and the weights are written back in raw units;
2. the answerability model over the question-level evidence (quoting.EVIDENCE),
   fitted on the answerable questions (label 1), the negatives, and every
   answerable question asked of the index without its own article (label 0);
3. the confidence model over the same evidence: does the first quote hold the
   answer (answerable questions and the hand-written negatives).

Each dump's name (its file stem) names its dataset in the report. With ``--write``
the models are refitted on everything and written to assistant/quote_model.json,
with the abstention threshold, the 高/中/低 thresholds and what each label meant on the
natural questions (how often its first quote held the answer), which the chat shows.
"""

from __future__ import annotations

import argparse
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from assistant.answer import AnswerSettings
from assistant.quoting import EVIDENCE, FEATURES, MODEL_FILE, is_foreign, question_evidence, shares_of

FOLDS = 5
FURTHER_WITHIN = AnswerSettings().further_within
# The hand-written negatives are the refusals that matter; the synthetic ones (a question
# asked without its article) are easier and far more numerous.
NEGATIVE_WEIGHT = 3.0
# Abstain below this answerable probability unless --threshold says otherwise: on the natural
# questions it refuses 7% of answerable ones (docs/benchmarks.md, the refusal trade-off).
DEFAULT_THRESHOLD = 0.3


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


def is_natural(q: Question) -> bool:
    return not q.dataset.startswith(("cmrc", "drcd"))


def train_ranker(questions: list[Question], natural_weight: float, l2: float) -> np.ndarray:
    """The conditional logit's weights, in the features' raw units."""
    data = []
    for q in questions:
        labels = np.asarray([r["has_answer"] for r in q.candidates], dtype=bool)
        if q.answerable and labels.any():
            x = np.asarray([r["features"] for r in q.candidates], dtype=float)
            data.append((x, labels, natural_weight if is_natural(q) else 1.0))
    stacked = np.vstack([x for x, _, _ in data])
    scale = stacked.std(axis=0) + 1e-9

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 * l2 * w @ w, l2 * w
        for x, labels, weight in data:
            z = x @ (w / scale)
            p = np.exp(z - z.max())
            p /= p.sum()
            held = p[labels].sum()
            total -= weight * np.log(held + 1e-12)
            grad = grad - weight * ((x / scale).T @ (p * labels / (held + 1e-12) - p))
        return total, grad

    w = minimize(loss, np.zeros(stacked.shape[1]), jac=True, method="L-BFGS-B").x
    return w / scale


def ranked(rows: list[dict], w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and softmax shares of a question's candidates."""
    scores = np.asarray([r["features"] for r in rows], dtype=float) @ w
    return scores, shares_of(scores)


def pick(rows: list[dict], shares: np.ndarray, k: int = 3) -> list[dict]:
    """Greedy non-overlapping top-k with the further-quote cut, as Answerer.compose does."""
    chosen: list[dict] = []
    order = np.argsort(-shares, kind="stable")
    for i in order:
        c = rows[i]
        if chosen and shares[i] * FURTHER_WITHIN < shares[order[0]]:
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


def evidence(q: Question, rows: list[dict], w: np.ndarray) -> list[float]:
    """Question-level evidence, as the product computes it (quoting.question_evidence)."""
    if not rows:
        return [0.0, -30.0, 0.0, 0.0, -0.8, float(is_foreign(q.text)), 0.5, 0.5, 0.5]
    feats = np.asarray([r["features"] for r in rows], dtype=float)
    return question_evidence(q.text, feats, feats @ w)


def train_answerable(
    questions: list[Question], w: np.ndarray, natural_weight: float, l2: float
) -> np.ndarray:
    x, y, sample = [], [], []
    for q in questions:
        weight = natural_weight if is_natural(q) else 1.0
        if q.answerable:
            x.append(evidence(q, q.candidates, w))
            y.append(1.0)
            sample.append(weight)
            if q.unanswerable:
                x.append(evidence(q, q.unanswerable, w))
                y.append(0.0)
                sample.append(weight)
        else:
            x.append(evidence(q, q.candidates, w))
            y.append(0.0)
            sample.append(weight * NEGATIVE_WEIGHT)
    return fit(np.asarray(x), np.asarray(y), np.asarray(sample), l2)


def train_first_holds(
    questions: list[Question], w: np.ndarray, natural_weight: float, l2: float
) -> np.ndarray:
    x, y, sample = [], [], []
    for q in questions:
        if not q.candidates:
            continue
        scores, _ = ranked(q.candidates, w)
        x.append(evidence(q, q.candidates, w))
        y.append(float(q.answerable and q.candidates[int(np.argmax(scores))]["has_answer"]))
        sample.append(natural_weight if is_natural(q) else 1.0)
    return fit(np.asarray(x), np.asarray(y), np.asarray(sample), l2)


@dataclass
class Result:
    q: Question
    answerable_p: float
    first_p: float
    first: bool
    top3: bool
    # The answerability when asked of the index without its own article (None: not dumped).
    without_p: float | None = None


def predict(q: Question, w: np.ndarray, a: np.ndarray, c: np.ndarray) -> Result:
    rows = q.candidates
    without = float(probabilities(a, [evidence(q, q.unanswerable, w)])[0]) if q.unanswerable else None
    if not rows:
        return Result(q, 0.0, 0.0, False, False, without)
    _, shares = ranked(rows, w)
    top = pick(rows, shares)
    e = [evidence(q, rows, w)]
    return Result(
        q,
        float(probabilities(a, e)[0]),
        float(probabilities(c, e)[0]),
        bool(top[0]["has_answer"]),
        any(r["has_answer"] for r in top),
        without,
    )


def cross_validate(
    questions: list[Question], natural_weight: float, l2: float, l2_question: float
) -> list[Result]:
    fold_of = {q.group: zlib.crc32(q.group.encode()) % FOLDS for q in questions}
    results = []
    for f in range(FOLDS):
        train = [q for q in questions if fold_of[q.group] != f]
        test = [q for q in questions if fold_of[q.group] == f]
        w = train_ranker(train, natural_weight, l2)
        a = train_answerable(train, w, natural_weight, l2_question)
        c = train_first_holds(train, w, natural_weight, l2_question)
        results += [predict(q, w, a, c) for q in test]
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
        without = [r.without_p for r in rows if r.without_p is not None]
        if without:
            refused = np.mean([p < threshold for p in without])
            print(f"{name:<8}{'WITHOUT OWN':<14}{len(without):>5}{'':>28}{refused:>9.3f}")


def held_by_label(results: list[Result], cuts: dict[str, float], threshold: float) -> dict[str, float]:
    """Per label, the share of answered natural questions whose first quote held the answer
    (negatives count as misses): the meaning the chat shows beside each label."""
    natural = [r for r in results if is_natural(r.q) and r.answerable_p >= threshold]
    # Highest label first; a lower label that measured better (a few questions, noise) is pooled
    # with the one above it, so no label promises more than a higher one.
    pools: list[tuple[list[str], list[bool]]] = []
    for label, (lo, hi) in bands(cuts).items():
        pools.append(([label], [r.first and r.q.answerable for r in natural if lo <= r.first_p < hi]))
        while len(pools) > 1 and np.mean(pools[-1][1] or [0.0]) > np.mean(pools[-2][1] or [1.0]):
            labels, held = pools.pop()
            pools[-1] = (pools[-1][0] + labels, pools[-1][1] + held)
    return {
        label: round(float(np.mean(held)), 2) if held else 0.0 for labels, held in pools for label in labels
    }


def calibration(results: list[Result], cuts: dict[str, float], threshold: float) -> None:
    """How often the first quote held the answer, by label, over the questions answered."""
    print(
        f"\nfirst quote holds the answer, by label (questions answered at {threshold}; negatives count as misses):"
    )
    groups: dict[str, list[Result]] = {}
    for r in results:
        if r.answerable_p >= threshold:
            groups.setdefault(r.q.dataset, []).append(r)
            if r.q.dataset.startswith("nn"):
                groups.setdefault(f"{r.q.dataset}/{r.q.style}", []).append(r)
    for name, rows in sorted(groups.items()):
        line = f"{name:<18}"
        for label, (lo, hi) in bands(cuts).items():
            s = [r.first and r.q.answerable for r in rows if lo <= r.first_p < hi]
            line += f"  {label} {np.mean(s) if s else float('nan'):.2f} (n={len(s):>3})"
        correct = [r for r in rows if r.first and r.q.answerable]
        low = sum(r.first_p < cuts["中"] for r in correct)
        print(line + f"   correct first quotes labelled 低: {low}/{len(correct)}")


def bands(cuts: dict[str, float]) -> dict[str, tuple[float, float]]:
    high, mid = cuts["高"], cuts["中"]
    return {"高": (high, 2.0), "中": (mid, high), "低": (-1.0, mid)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dumps", nargs="+")
    parser.add_argument("--natural-weight", type=float, default=1.5)
    parser.add_argument("--l2", type=float, default=3.0, help="L2 of the ranker, on standardised features")
    parser.add_argument("--l2-question", type=float, default=0.01, help="L2 of the two question models")
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="the abstention threshold to report and write (all of 0–0.6 reported when not given; 0.3 written)",
    )
    parser.add_argument("--high", type=float, default=0.7)
    parser.add_argument("--mid", type=float, default=0.4)
    parser.add_argument("--write", action="store_true", help="refit on everything and write quote_model.json")
    args = parser.parse_args()
    questions = load(args.dumps)
    datasets = list(dict.fromkeys(q.dataset for q in questions))
    results = cross_validate(questions, args.natural_weight, args.l2, args.l2_question)
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    for shown in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6) if args.threshold is None else (threshold,):
        report(results, shown, datasets)
    calibration(results, {"高": args.high, "中": args.mid}, threshold)
    print(
        "natural questions, first quote held the answer:",
        held_by_label(results, {"高": args.high, "中": args.mid}, threshold),
    )
    if not args.write:
        return
    w = train_ranker(questions, args.natural_weight, args.l2)
    a = train_answerable(questions, w, args.natural_weight, args.l2_question)
    c = train_first_holds(questions, w, args.natural_weight, args.l2_question)

    def logistic(v: np.ndarray) -> dict:
        return {
            "intercept": round(float(v[0]), 4),
            "weights": dict(zip(EVIDENCE, np.round(v[1:], 4).tolist(), strict=True)),
        }

    model = {
        "fitted_by": "bench/tune_quotes.py " + " ".join(Path(d).name for d in args.dumps),
        "quote": {"weights": dict(zip(FEATURES, np.round(w, 4).tolist(), strict=True))},
        "answerable": logistic(a),
        "first_holds": logistic(c),
        "abstain_below": threshold,
        "confidence": {"高": args.high, "中": args.mid},
        "held": held_by_label(results, {"高": args.high, "中": args.mid}, threshold),
    }
    MODEL_FILE.write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":
    main()
