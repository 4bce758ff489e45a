"""news-html scored end to end: the 50 saved pages imported as HTML, its 36 questions asked.

Usage::

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 python bench/news_html_ask.py [--dataset ../shared/datasets/news-html]

As the dataset's README scores it: a body question is right when a quote taken from the question's
own page holds one of its ``answers``; a chrome question (its fact stands only in a related list,
a ranking, a comment or a footer) is right when no quote holds one of its ``forbidden`` strings.
Every quote is also checked verbatim against ``read_article(page).text``. ``bench/news_html.py``
measures the extraction alone; this runs the product: ``assistant index build`` with the bundled
model, then :class:`assistant.service.Assistant`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from built import build_and_open


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/news-html"))
    parser.add_argument("--out", type=Path, default=Path("bench/out/news_html_ask"))
    args = parser.parse_args()
    corpus, index = args.out / "corpus", args.out / "index"
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.copytree(args.dataset / "pages", corpus)
    questions = [
        json.loads(line)
        for line in (args.dataset / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assistant, seconds = build_and_open(corpus, index)
    print(f"index built in {seconds:.0f} s")

    from assistant.corpus import read_article

    texts: dict[str, str] = {}
    body_right = body_first = chrome_right = chrome_refused = quotes = non_verbatim = 0
    for q in questions:
        answer = assistant.ask(q["question"])
        for quote in answer.quotes:
            quotes += 1
            if quote.article_id not in texts:
                texts[quote.article_id] = read_article(corpus / quote.article_id, corpus).text
            non_verbatim += texts[quote.article_id][quote.start : quote.end] != quote.quote
        own = [x.quote for x in answer.quotes if x.article_id == q["page"]]
        if q["style"] == "body":
            right = any(a in quote for quote in own for a in q["answers"])
            first = bool(answer.quotes) and answer.quotes[0].article_id == q["page"]
            first = first and any(a in answer.quotes[0].quote for a in q["answers"])
            body_right += right
            body_first += first
            mark = "ok " if right else "MISS"
        else:
            leaked = [f for x in answer.quotes for f in q["forbidden"] if f in x.quote]
            chrome_right += not leaked
            chrome_refused += not answer.answered
            mark = "ok " if not leaked else "LEAK"
        print(f"{mark} {q['id']} [{q['style']}] answered={answer.answered} {q['question']}")
    body = sum(q["style"] == "body" for q in questions)
    chrome = len(questions) - body
    print(f"body: {body_right}/{body} answered from their own page ({body_first}/{body} in the first quote)")
    print(
        f"chrome: {chrome_right}/{chrome} with no forbidden string quoted; {chrome_refused}/{chrome} refused"
    )
    print(f"quotes: {quotes}, not verbatim: {non_verbatim}")


if __name__ == "__main__":
    main()
