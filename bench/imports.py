"""Importing 1,000 mixed files: time outside the model's encode, and peak memory.

Usage::

    python bench/imports.py [--files 1000] [--out bench/out/imports]
    python bench/imports.py --records 100000     # stream one 100k-record JSONL, nothing else

Writes ``--files`` files of People's Daily (January 1998) text (~800 characters an article), a quarter each as .txt,
.pdf (reportlab, STSong-Light), .docx (python-docx) and exports (half .jsonl, half GBK
.csv, 4 records each), then, in a fresh process so that writing them does not count,
runs ``update_index`` with the tests' hashing embedder in place of the model: every
stage but ``embed`` is what an import costs beyond the model. Then it times each
reader alone. Peak memory is the child's maximum resident set (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from people_daily import articles  # noqa: E402

from tests.documents import write_docx_paragraphs, write_pdf  # noqa: E402

RECORDS_PER_EXPORT = 4
# The month of text holds ~2,600 articles of this size; 1,000 files need 1,750.
ARTICLE_CHARS = 800


def write_files(corpus: Path, count: int) -> dict[str, int]:
    """``count`` files, cycling .txt, .pdf, .docx and an export; returns files per suffix.

    The text each PDF and DOCX was written from goes to ``../expected.json``.
    """
    corpus.mkdir(parents=True, exist_ok=True)
    texts = articles(chars=ARTICLE_CHARS)
    made: dict[str, int] = {}
    expected: dict[str, str] = {}
    for n in range(count):
        kind = ("txt", "pdf", "docx", "jsonl" if n % 8 == 3 else "csv")[n % 4]
        paragraphs = [p.strip("\u3000") for p in next(texts).splitlines()]
        path = corpus / f"{n:05}.{kind}"
        if kind == "txt":
            path.write_text("\n".join("　　" + p for p in paragraphs) + "\n", encoding="utf-8")
        elif kind == "pdf":
            write_pdf(path, [["　　" + p for p in paragraphs]], per_line=30)
            expected[path.name] = "\n".join(paragraphs)
        elif kind == "docx":
            write_docx_paragraphs(path, paragraphs)
            expected[path.name] = "\n".join(paragraphs)
        else:
            bodies = ["\n".join(paragraphs)] + [
                "\n".join(p.strip("\u3000") for p in next(texts).splitlines())
                for _ in range(RECORDS_PER_EXPORT - 1)
            ]
            rows = [
                {"id": f"{n}-{i}", "title": b[:12], "date": "1998-01-01", "source": "人民日报", "body": b}
                for i, b in enumerate(bodies)
            ]
            if kind == "jsonl":
                path.write_text(
                    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
                )
            else:
                with path.open("w", encoding="gbk", errors="replace", newline="") as handle:
                    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
        made[kind] = made.get(kind, 0) + 1
    (corpus.parent / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), encoding="utf-8")
    return made


def measure(out: Path) -> None:
    """In the child: the update's stages and counts, each reader's time, and the peak memory."""
    from assistant.config import Settings
    from assistant.corpus import read_article
    from assistant.corpus.records import RECORD_SUFFIXES, read_records
    from assistant.errors import CorpusError
    from assistant.indexing import update_index
    from assistant.lexical import tokenize
    from tests.conftest import FakeEmbedder

    tokenize("预热")  # jieba's dictionary, loaded in a running server too
    settings = Settings(corpus_dir=out / "corpus", index_dir=out / "index", model=FakeEmbedder.model_id)
    started = time.perf_counter()
    report = update_index(settings, FakeEmbedder(), full=True, show_progress=True)
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    expected = json.loads((out / "expected.json").read_text(encoding="utf-8"))
    verbatim: dict[str, int] = {}
    per_suffix: dict[str, list[float]] = {}
    for path in sorted(settings.corpus_dir.iterdir()):
        started = time.perf_counter()
        try:
            if path.suffix in RECORD_SUFFIXES:
                n = sum(1 for _ in read_records(path, settings.corpus_dir, "", [], settings.max_file_bytes))
            else:
                text = read_article(path, settings.corpus_dir).text
                n = 1
                if path.name in expected:
                    verbatim[path.suffix] = verbatim.get(path.suffix, 0) + (text == expected[path.name])
        except CorpusError as exc:
            print(exc)
            n = 0
        entry = per_suffix.setdefault(path.suffix, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += n
        entry[2] += time.perf_counter() - started
    print(
        json.dumps(
            {
                "total_s": round(total, 2),
                "stages": report.stages,
                "articles": report.articles,
                "passages": report.passages,
                "sentences": report.sentences,
                "skipped": len(report.skipped) + len(report.duplicates),
                "peak_rss_mb": round(peak),
                "read_ms_per_file": {k: round(v[2] / v[0] * 1000, 1) for k, v in per_suffix.items()},
                "articles_per_suffix": {k: v[1] for k, v in per_suffix.items()},
                "text_exactly_as_written": {k: f"{n}/{per_suffix[k][0]}" for k, n in verbatim.items()},
            },
            ensure_ascii=False,
            indent=1,
        )
    )


def stream_records(out: Path, count: int) -> None:
    """Write one ``count``-record JSONL and read it through; memory stays that of one record."""
    from assistant.corpus.records import read_records

    out.mkdir(parents=True, exist_ok=True)
    path = out / "big.jsonl"
    texts = itertools.cycle(list(articles(chars=300)))  # the month holds ~6,600 of them
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            handle.write(json.dumps({"id": n, "body": next(texts)}, ensure_ascii=False) + "\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    read = sum(1 for _ in read_records(path, out, "", [], 2**21))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{read} records ({path.stat().st_size / 2**20:.0f} MB) read in {seconds:.1f}s; "
        f"peak RSS {before:.0f} MB before, {after:.0f} MB after"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/imports"))
    parser.add_argument("--records", type=int, help="Only stream a JSONL of this many records.")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.out)
        return
    if args.records:
        stream_records(args.out, args.records)
        return
    shutil.rmtree(args.out, ignore_errors=True)
    started = time.perf_counter()
    made = write_files(args.out / "corpus", args.files)
    print(f"wrote {made} in {time.perf_counter() - started:.0f}s")
    subprocess.run([sys.executable, __file__, "--measure", "--out", str(args.out)], check=True)


if __name__ == "__main__":
    main()
