"""Main-text extraction from saved Chinese news pages: ours against plain trafilatura.

Usage::

    python bench/news_html.py [--data /work/shared/datasets/news-html] [--show PAGE]

Runs over every page of the news-html dataset (50 real pages with their chrome, see its
README) and scores each extractor with the dataset's annotations:

- body answers: of the body questions, how many have an ``answers`` string in the page's text;
- chrome leaks: of the chrome questions, how many have a ``forbidden`` string in it (want 0);
- body extent: of the 12 annotated pages, how many hold both ``body_start`` and ``body_end``;
- title and date: exact matches with the annotated ones;
- refused: pages where no text came out; and milliseconds per page (after one warm-up page).

``plain`` is ``trafilatura.bare_extraction(data, with_metadata=True)`` with its defaults;
``precision`` the same with ``favor_precision=True``; ``ours`` is ``extract_html``.
``--show PAGE`` prints what each extractor took from one page.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from assistant.corpus.extracted import Extracted, Unreadable
from assistant.corpus.html import extract_html


def trafilatura_reader(**options: bool) -> Callable[[bytes, str], Extracted]:
    """trafilatura on the raw bytes, with its own decoding and metadata."""
    import trafilatura

    def read(data: bytes, name: str) -> Extracted:
        document = trafilatura.bare_extraction(data, with_metadata=True, **options)
        if document is None or not document.text:
            raise Unreadable("no text")
        return Extracted(text=document.text, title=document.title, date=document.date)

    return read


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(read: Callable[[bytes, str], Extracted], data_dir: Path) -> dict[str, float]:
    pages = sorted((data_dir / "pages").glob("*/*.html"))
    results: dict[str, Extracted | None] = {}
    read(pages[0].read_bytes(), "warm-up")  # imports and first-call set-up are not timed
    started = time.perf_counter()
    for path in pages:
        name = path.relative_to(data_dir / "pages").as_posix()
        try:
            results[name] = read(path.read_bytes(), name)
        except Unreadable:
            results[name] = None
    elapsed = time.perf_counter() - started
    questions = read_jsonl(data_dir / "questions.jsonl")
    annotated = read_jsonl(data_dir / "pages.jsonl")

    def text(page: str) -> str:
        found = results[page]
        return found.text if found else ""

    body = [q for q in questions if q["answers"]]
    chrome = [q for q in questions if q["forbidden"]]
    return {
        "body answers": sum(any(a in text(q["page"]) for a in q["answers"]) for q in body),
        "of body": len(body),
        "chrome leaks": sum(any(f in text(q["page"]) for f in q["forbidden"]) for q in chrome),
        "of chrome": len(chrome),
        "body extent": sum(
            p["body_start"] in text(p["page"]) and p["body_end"] in text(p["page"]) for p in annotated
        ),
        "title": sum(bool(results[p["page"]]) and results[p["page"]].title == p["title"] for p in annotated),
        "date": sum(bool(results[p["page"]]) and results[p["page"]].date == p["date"] for p in annotated),
        "of pages": len(annotated),
        "refused": sum(found is None for found in results.values()),
        "ms/page": 1000 * elapsed / len(pages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/datasets/news-html"))
    parser.add_argument("--show", help="print each extractor's text for this page, e.g. 163/7.html")
    args = parser.parse_args()
    readers = {
        "plain": trafilatura_reader(),
        "precision": trafilatura_reader(favor_precision=True),
        "ours": extract_html,
    }
    if args.show:
        data = (args.data / "pages" / args.show).read_bytes()
        for label, read in readers.items():
            try:
                found = read(data, args.show)
                print(f"== {label}: {found.title} | {found.date}\n{found.text}\n")
            except Unreadable as exc:
                print(f"== {label}: refused ({exc})\n")
        return
    print("extractor   body answers  chrome leaks  body extent  title  date  refused  ms/page")
    for label, read in readers.items():
        s = score(read, args.data)
        print(
            f"{label:<11} {s['body answers']:>5}/{s['of body']:<6} {s['chrome leaks']:>6}/{s['of chrome']:<5}"
            f" {s['body extent']:>7}/{s['of pages']:<3} {s['title']:>3}/{s['of pages']:<2}"
            f" {s['date']:>2}/{s['of pages']:<2} {s['refused']:>5}   {s['ms/page']:>6.0f}"
        )


if __name__ == "__main__":
    main()
