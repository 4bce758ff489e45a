"""Fit the answer-span models on the first quotes the assistant chose, and pick the show threshold.

Usage (the dumps are those of bench/tune_quotes.py; each is paired with its gold answers)::

    python bench/tune_span.py \\
        bench/out/cmrc.jsonl=../shared/datasets/cmrc2018/cmrc2018_trial.json \\
        bench/out/drcd.jsonl=../shared/datasets/drcd/DRCD_test.json \\
        bench/out/nn1.jsonl=../shared/datasets/natural-news \\
        bench/out/nn2.jsonl=../shared/datasets/natural-news-2 --write

For every answerable question the assistant answers, its first quote is the candidate the
shipped quote model ranks first (assistant/quote_model.json), and it is answered when the
shipped answerability model says so: the quote the product shows. The span candidates of
that quote (assistant/span.py) are labelled with CMRC 2018's official character F1 against
the gold answers. Five folds split by context (article):

1. the span ranker, a conditional logit (bench/tune_quotes.train_ranker) that gives the
   candidates with F1 ≥ ``--good`` the largest share of the softmax;
2. the calibration model, a logistic model of the best candidate's F1 (a soft label) from
   its evidence (span.EVIDENCE): the probability shown as the span's score.

The span is shown when that probability reaches the threshold; the report gives, for each
threshold, exact match and F1 over the shown spans, the share of answered questions that
show one, and on natural questions how often the shown span contains a gold answer; then
where spans are lost (the quote, candidate recall, ranking, calibration). Only the datasets
named by ``--fit`` train the models (by default all four, each split into folds by article,
so a natural question is predicted by weights that never saw its article); the others are
measured with weights fitted on the fit sets, so they are held out entirely. With
``--write`` the models are refitted on the fit sets and written to assistant/span_model.json
with the lowest threshold whose cross-validated F1 over shown CMRC spans reaches ``--target``
(over at least ``--min-shown`` spans; failing that, the one with the best F1).
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from tune_quotes import Question as Ranked  # noqa: E402
from tune_quotes import fit, train_ranker  # noqa: E402

from assistant.eval_natural import load_questions, locate  # noqa: E402
from assistant.evaluate import load_squad  # noqa: E402
from assistant.quoting import models as quote_models  # noqa: E402
from assistant.quoting import question_evidence  # noqa: E402
from assistant.span import EVIDENCE, FEATURES, MODEL_FILE, candidates, choose  # noqa: E402
from assistant.span_metrics import char_f1, exact_match  # noqa: E402

FOLDS = 5
THRESHOLDS = (0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


@dataclass
class Item:
    """One answered question's first quote, its span candidates and their F1."""

    dataset: str
    group: str
    question: str
    style: str
    answers: tuple[str, ...]
    quote: str
    quote_score: float
    candidates: list
    f1: np.ndarray
    em: np.ndarray


def gold_answers(source: Path) -> dict[str, tuple[str, ...]]:
    """Question id → gold answers, from a SQuAD JSON file or a natural-question folder."""
    if source.suffix == ".json":
        return {q.id: tuple(a for a, _ in q.answers) for q in load_squad(source)[1]}
    return {q.id: q.answers for q in load_questions(locate(source)[0])}


def load(pairs: list[str]) -> tuple[list[Item], dict[str, int]]:
    """The answered questions' first quotes with span candidates; and answered counts by dataset."""
    qm = quote_models()
    weights = np.asarray(list(qm.quote.values()))
    items, answered = [], {}
    for pair in pairs:
        dump, source = pair.split("=", 1)
        name = Path(dump).stem
        gold = gold_answers(Path(source))
        with open(dump, encoding="utf-8") as handle:
            for line in handle:
                r = json.loads(line)
                answers = gold.get(r["id"], ())
                if not (r.get("answerable", True) and answers and r["candidates"]):
                    continue
                feats = np.asarray([c["features"] for c in r["candidates"]], dtype=float)
                scores = feats @ weights
                evidence = question_evidence(r["question"], feats, scores)
                if qm.answerable(evidence) < qm.abstain_below:
                    continue
                answered[name] = answered.get(name, 0) + 1
                quote = r["candidates"][int(np.argmax(scores))]["text"]
                cands = candidates(r["question"], quote)
                if not cands:
                    continue
                items.append(
                    Item(
                        dataset=name,
                        group=f"{name}:{r['article_id'] or r['id']}",
                        question=r["question"],
                        style=r.get("style") or name,
                        answers=answers,
                        quote=quote,
                        quote_score=qm.first_holds(evidence),
                        candidates=cands,
                        f1=np.asarray([char_f1(c.text, answers) for c in cands]),
                        em=np.asarray([exact_match(c.text, answers) for c in cands]),
                    )
                )
    return items, answered


def train(items: list[Item], good: float, l2: float) -> tuple[dict[str, float], np.ndarray]:
    """The ranker's weights by feature name, and the calibration model (intercept, weights…)."""
    rows = [
        Ranked(
            dataset="cmrc",
            id=str(n),
            text=it.question,
            style="",
            group=it.group,
            answerable=True,
            candidates=[
                {"features": c.features, "has_answer": bool(f >= good)}
                for c, f in zip(it.candidates, it.f1, strict=True)
            ],
            unanswerable=[],
        )
        for n, it in enumerate(items)
    ]
    w = dict(zip(FEATURES, train_ranker(rows, 1.0, l2), strict=True))
    x, y = [], []
    for it in items:
        top, e = best(it, w)
        x.append(e)
        y.append(it.f1[top])
    return w, fit(np.asarray(x), np.asarray(y), np.ones(len(y)), 0.01)


def best(it: Item, w: dict[str, float]) -> tuple[int, list[float]]:
    """The index of the candidate the product would show and its evidence (span.EVIDENCE)."""
    scores = np.asarray([c.features for c in it.candidates], dtype=float) @ np.asarray(list(w.values()))
    order = np.argsort(-scores, kind="stable")
    scored = [(float(scores[i]), it.candidates[i]) for i in order]
    chosen, evidence = choose(it.question, scored, it.quote_score)
    return next(i for i in order if it.candidates[i] is chosen), evidence


def cross_validate(
    items: list[Item], fit_sets: set[str], good: float, l2: float
) -> list[tuple[Item, int, float]]:
    """Each item's predicted best candidate and probability, from weights that never saw its context."""
    fold_of = {it.group: zlib.crc32(it.group.encode()) % FOLDS for it in items}
    out = []
    for f in range(FOLDS):
        train_items = [it for it in items if it.dataset in fit_sets and fold_of[it.group] != f]
        w, c = train(train_items, good, l2)
        for it in items:
            if fold_of[it.group] == f or it.dataset not in fit_sets:
                top, e = best(it, w)
                p = 1 / (1 + np.exp(-(c[0] + np.dot(c[1:], e))))
                out.append((it, top, float(p)))
    # Held-out sets were predicted once per fold: keep one prediction each.
    seen, unique = set(), []
    for it, top, p in out:
        if id(it) not in seen:
            seen.add(id(it))
            unique.append((it, top, p))
    return unique


def report(results: list[tuple[Item, int, float]], answered: dict[str, int]) -> dict[str, dict[float, dict]]:
    """Figures by dataset and threshold; printed and returned."""
    table: dict[str, dict[float, dict]] = {}
    for name in dict.fromkeys(it.dataset for it, _, _ in results):
        rows = [(it, top, p) for it, top, p in results if it.dataset == name]
        table[name] = {}
        print(f"\n== {name}: {answered[name]} answered questions (span F1 / EM over shown; CV by context) ==")
        print(
            f"{'show ≥':>7}{'shown':>8}{'share':>8}{'EM':>8}{'F1':>8}{'contains':>10}   best candidate F1 (oracle)"
        )
        for t in THRESHOLDS:
            shown = [(it, top) for it, top, p in rows if p >= t]
            em = np.mean([it.em[top] for it, top in shown]) if shown else float("nan")
            f1 = np.mean([it.f1[top] for it, top in shown]) if shown else float("nan")
            holds = (
                np.mean([any(a in it.candidates[top].text for a in it.answers) for it, top in shown])
                if shown
                else float("nan")
            )
            share = len(shown) / answered[name]
            oracle = np.mean([it.f1.max() for it, _, _ in rows])
            table[name][t] = {"shown": len(shown), "share": share, "em": em, "f1": f1, "contains": holds}
            print(f"{t:>7.2f}{len(shown):>8}{share:>8.3f}{em:>8.3f}{f1:>8.3f}{holds:>10.3f}   {oracle:.3f}")
    return table


def losses(results: list[tuple[Item, int, float]], threshold: float) -> None:
    """Where spans are lost, by dataset: the quote, the candidates, the ranking, the threshold.

    Each answered question falls in the first of: the first quote holds no gold answer (nor a
    span with F1 ≥ 0.8 to one); no candidate reaches F1 ≥ 0.8 (candidate recall); the chosen
    candidate does not although one does (ranking); the chosen one does (right). Right ones
    below the threshold are lost to calibration; wrong ones above it are shown wrong.
    """
    print(f"\n== where spans are lost (F1 ≥ 0.8 counts as right; shown at ≥ {threshold}) ==")
    print(
        f"{'set':>6}{'quote':>8}{'recall':>8}{'ranking':>9}{'right':>7}{'hidden right':>14}{'shown wrong':>13}"
    )
    for name in dict.fromkeys(it.dataset for it, _, _ in results):
        counts = dict.fromkeys(("quote", "recall", "ranking", "right", "hidden", "wrong"), 0)
        for it, top, p in results:
            if it.dataset != name:
                continue
            right = it.f1[top] >= 0.8
            if right:
                counts["right"] += 1
            elif it.f1.max() >= 0.8:
                counts["ranking"] += 1
            elif any(a in it.quote for a in it.answers) or char_f1(it.quote, it.answers) >= 0.8:
                counts["recall"] += 1
            else:
                counts["quote"] += 1
            counts["hidden"] += right and p < threshold
            counts["wrong"] += (not right) and p >= threshold
        print(
            f"{name:>6}{counts['quote']:>8}{counts['recall']:>8}{counts['ranking']:>9}{counts['right']:>7}"
            f"{counts['hidden']:>14}{counts['wrong']:>13}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "pairs", nargs="+", help="DUMP=GOLD: a candidate dump and its SQuAD JSON or natural folder"
    )
    parser.add_argument(
        "--fit",
        default="cmrc,drcd,nn1,nn2",
        help="the dump names (file stems) that train the models (cross-validated by article)",
    )
    parser.add_argument(
        "--good", type=float, default=0.8, help="a candidate with this F1 counts as the answer"
    )
    parser.add_argument("--l2", type=float, default=3.0)
    parser.add_argument(
        "--target", type=float, default=0.8, help="F1 over shown CMRC spans the threshold must reach"
    )
    parser.add_argument("--min-shown", type=int, default=30, help="a threshold needs this many shown spans")
    parser.add_argument("--examples", type=int, default=0, help="print this many shown spans of each dataset")
    parser.add_argument(
        "--write", action="store_true", help="refit on the fit sets and write span_model.json"
    )
    args = parser.parse_args()
    items, answered = load(args.pairs)
    fit_sets = set(args.fit.split(","))
    results = cross_validate(items, fit_sets, args.good, args.l2)
    table = report(results, answered)
    for name in table:
        shown = [(it, top, p) for it, top, p in results if it.dataset == name][: args.examples]
        for it, top, p in shown:
            print(
                f"{name} {p:.2f} F1 {it.f1[top]:.2f} {it.question} → {it.candidates[top].text} | gold {it.answers}"
            )
    first = next(n for n in table if n in fit_sets)
    measured = {t: m for t, m in table[first].items() if m["shown"] >= args.min_shown}
    threshold = next((t for t, m in measured.items() if m["f1"] >= args.target), None)
    if threshold is None:
        threshold = max(measured, key=lambda t: measured[t]["f1"])
        print(f"\nno threshold reaches CV F1 {args.target} over ≥ {args.min_shown} shown {first} spans")
    m = table[first][threshold]
    print(f"show at ≥ {threshold}: {first} F1 {m['f1']:.3f}, EM {m['em']:.3f}, shown {m['share']:.3f}")
    losses(results, threshold)
    if not args.write:
        return
    w, c = train([it for it in items if it.dataset in fit_sets], args.good, args.l2)
    model = {
        "fitted_by": "bench/tune_span.py " + " ".join(Path(p.split("=")[0]).name for p in args.pairs),
        "fit_on": sorted(fit_sets),
        "rank": {"weights": {k: round(float(v), 4) for k, v in w.items()}},
        "holds": {
            "intercept": round(float(c[0]), 4),
            "weights": dict(zip(EVIDENCE, np.round(c[1:], 4).tolist(), strict=True)),
        },
        "show_above": threshold,
    }
    MODEL_FILE.write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":
    main()
