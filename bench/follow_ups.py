"""Two-turn dialogues: does carrying the conversation find the right quote for a follow-up?

Usage::

    assistant eval --dataset ../shared/datasets/cmrc2018/cmrc2018_trial.json \\
        --keep-index bench/out/cmrc-index --limit 1        # once: embeds every context
    python bench/follow_ups.py [--dataset …/cmrc2018_trial.json] [--cmrc-index bench/out/cmrc-index]

Dialogues come from two places:

* CMRC 2018: for two questions of one context that both name its title (say
  「范廷颂是什么时候被任为主教的？」), the first is asked as is and the second
  with the title replaced by a pronoun (「他是什么时候被任为主教的？」), against
  the index of all contexts. The unrewritten second question is the ceiling.
* The seed articles: dialogues written by hand (``SEED``), with the substring
  the follow-up's first quote must hold.

Each follow-up is answered with no history (the baseline) and with the history
under several :class:`FollowUpSettings`. A harm check asks each original
(self-contained) CMRC question after an unrelated question from another
context, with and without that history. All from one run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.answer import Answerer, FollowUpSettings
from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.evaluate import load_squad
from assistant.indexing import update_index
from assistant.retrieval import Retriever
from assistant.store import load_index

SEED = [
    ("雷神山医院项目指挥部成立了什么组织？", "他们在仪式上做了什么？", "重温入党誓词"),
    ("火神山医院是哪家企业负责建设的？", "有多少名党员在党旗下宣誓？", "400余名党员"),
    (
        "天津市组建医疗队增援武汉，有多少名党员进入首批援助医疗队？",
        "还有多少名入党积极分子？",
        "3名入党积极分子",
    ),
    ("飘安集团党委书记是谁？", "他带领多少名党员职工赶制口罩？", "50多名党员职工"),
    ("上海盛辉塑料包装有限公司原来每天生产多少只口罩？", "后来需求增加到多少？", "70万只"),
    ("TR188次航班载有多少名武汉客人？", "其他乘客被送到了哪里？", "杭州市委党校"),
    ("余追教授被派去支援哪家医院？", "他说了什么？", "作为一名党员"),
    ("广东佛山怡景社区有多少社区工作人员？", "那里有多少户居民？", "3000多户居民"),
]
SETTINGS = {
    "no history": None,
    "last turn, equal weight, no prior": FollowUpSettings(carry=1.0, decay=0.0, turns=1, prior=0.0),
    "carry 0.6, no prior": FollowUpSettings(prior=0.0),
    "carry 0.6 + prior 0.5": FollowUpSettings(prior=0.5),
    "carry 0.6 + prior 1 (default)": FollowUpSettings(),
    "carry 0.6 + prior 2": FollowUpSettings(prior=2.0),
    "carry 0.3 + prior 1": FollowUpSettings(carry=0.3),
    "carry 1.0 + prior 1": FollowUpSettings(carry=1.0),
    "default, alone if its quote ≥ 0.3": FollowUpSettings(standalone_above=0.3),
    "default, alone if its quote ≥ 0.5": FollowUpSettings(standalone_above=0.5),
    "default, alone if its quote ≥ 0.7": FollowUpSettings(standalone_above=0.7),
}


@dataclass
class Dialogue:
    first: str
    follow_up: str
    article_id: str
    answers: list[str]
    original: str


def cmrc_dialogues(dataset: Path) -> list[Dialogue]:
    """Second questions that name their context's title, with the title made a pronoun."""
    articles, questions = load_squad(dataset)
    titles = {a.id: a.title for a in articles}
    by_article: dict[str, list] = {}
    for q in questions:
        by_article.setdefault(q.article_id, []).append(q)
    out = []
    for article_id, qs in by_article.items():
        title = titles[article_id]
        naming = [q for q in qs if len(title) >= 2 and title in q.text]
        for i, q in enumerate(naming[1:], 1):
            pronoun = "他" if re.search(r"谁|哪位|出生|人物", q.text) else "它"
            follow = q.text.replace(title, pronoun)
            answers = [a for a, _ in q.answers]
            out.append(Dialogue(naming[i - 1].text, follow, article_id, answers, q.text))
    return out


def answered_right(answer, answers: list[str]) -> tuple[bool, bool]:
    quotes = [q.quote for q in answer.quotes]
    at1 = bool(quotes) and any(a in quotes[0] for a in answers)
    at3 = any(a in x for a in answers for x in quotes[:3])
    return at1, at3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--dataset", type=Path, default=Path("../shared/datasets/cmrc2018/cmrc2018_trial.json")
    )
    parser.add_argument("--cmrc-index", type=Path, default=Path("bench/out/cmrc-index"))
    parser.add_argument("--out", type=Path, default=Path("bench/out/follow-ups"))
    args = parser.parse_args()
    embedder = Embedder(Settings().model)

    seed_settings = Settings(corpus_dir=args.out / "corpus", index_dir=args.out / "index")
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.copytree(Path(__file__).resolve().parents[1] / "corpus", seed_settings.corpus_dir)
    update_index(seed_settings, embedder)
    seed_retriever = Retriever(load_index(seed_settings.index_dir), embedder)
    cmrc_retriever = Retriever(load_index(args.cmrc_index), embedder)
    dialogues = cmrc_dialogues(args.dataset)
    print(f"{len(dialogues)} CMRC dialogues, {len(SEED)} seed dialogues")

    # Harm check: each self-contained question asked after a question about another context.
    unrelated = [dialogues[(i + len(dialogues) // 2) % len(dialogues)].first for i in range(len(dialogues))]
    rows = []
    for name, follow_up in SETTINGS.items():
        started = time.perf_counter()
        cmrc = Answerer(cmrc_retriever, follow_up=follow_up or FollowUpSettings())
        seed = Answerer(seed_retriever, follow_up=follow_up or FollowUpSettings())
        at1 = at3 = article1 = 0
        for d in dialogues:
            answer = cmrc.ask(d.follow_up, history=[d.first] if follow_up else None)
            r1, r3 = answered_right(answer, d.answers)
            at1, at3 = at1 + r1, at3 + r3
            article1 += bool(answer.quotes) and answer.quotes[0].article_id == d.article_id
        seed_right = sum(
            bool(a.quotes) and expected in a.quotes[0].quote
            for first, follow, expected in SEED
            for a in [seed.ask(follow, history=[first] if follow_up else None)]
        )
        harmed = sum(
            answered_right(cmrc.ask(d.original, history=[other] if follow_up else None), d.answers)[0]
            for d, other in zip(dialogues, unrelated, strict=True)
        )
        n = len(dialogues)
        rows.append(
            (name, at1 / n, at3 / n, article1 / n, seed_right, harmed / n, time.perf_counter() - started)
        )

    ceiling = Answerer(cmrc_retriever)
    c1 = sum(answered_right(ceiling.ask(d.original), d.answers)[0] for d in dialogues) / len(dialogues)
    print(
        "\n| follow-up handling | CMRC AIQ@1 | CMRC AIQ@3 | CMRC right article@1 | seed right @1 "
        "| self-contained after an unrelated turn, AIQ@1 | seconds |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, a1, a3, art, seed_right, harm, seconds in rows:
        print(
            f"| {name} | {a1:.3f} | {a3:.3f} | {art:.3f} | {seed_right}/{len(SEED)} | {harm:.3f} | {seconds:.0f} |"
        )
    print(f"\nceiling (the unrewritten question, no history): CMRC AIQ@1 {c1:.3f}")


if __name__ == "__main__":
    main()
