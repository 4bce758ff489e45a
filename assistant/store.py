"""The index folder: the passage table, sentence vectors, a manifest and the passage store.

Layout of ``index/``::

    CURRENT              name of the live generation folder (replaced atomically)
    g-<time>-<id>/       one complete index generation
        manifest.json    model, dimension, chunking, store, versions, counts, article hashes
        passages.npz     the passage table by column: id, article, paragraph, offsets, sentence spans
        passages.txt     the passages' text, concatenated; passage_articles.json: article ids
        sentences.npy    float16 vectors of the title-prefixed sentences (for quoting)
        sentence_hashes.json   the text hash of each sentence row (the embedding cache key)
        ...              the store's own files (vectors, BM25: see assistant/stores/)

Passage ids are stable: a passage keeps its id for as long as its article is unchanged,
and an id once given is never given again (``next_passage_id`` in the manifest). The live
generation's passage table says which ids exist: a store that also holds others (points an
interrupted update wrote to a server) never answers with them.

A generation is written into a hidden temporary folder, fsynced, renamed into
place, and only then named in ``CURRENT``: a reader sees the old index or the
new one, never half of one.

The manifest records every file's size and SHA-256. Loading checks every size
and the hash of every file it reads whole; the memory-mapped vector files
are hashed only when asked (``verify=True``), which an update does, since it
carries their vectors into the next generation: serving starts without reading
hundreds of megabytes, and no damage is copied forward.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol, overload

import numpy as np

from assistant.errors import (
    DAMAGED_FILE,
    AssistantError,
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    IndexWriteError,
)
from assistant.manifest import FORMAT_VERSION, GENERATION_FILES, ArticleRecord, Manifest, ManifestProblem
from assistant.stores import PassageStore, check_store, load_store, store_files

logger = logging.getLogger(__name__)

REBUILD_HINT = "run `assistant index build --full` to rebuild it"
# Memory-mapped at load, so hashed only by load_index(verify=True); sizes are always checked.
_MAPPED = frozenset({"sentences.npy"})
_GENERATION = re.compile(r"g-[0-9A-Za-z-]+")
# FAISS reports a damaged index file as a RuntimeError.
_DAMAGE = (*DAMAGED_FILE, RuntimeError)


@dataclass(frozen=True)
class PassageRecord:
    """A stored passage. ``id`` is its stable id in the store."""

    id: int
    article_id: str
    ordinal: int
    paragraph: int
    start: int
    end: int
    text: str
    text_hash: str
    sentences: tuple[tuple[int, int, int], ...]
    sentence_rows: tuple[int, ...]


class Piece(NamedTuple):
    """A passage's span of its article and its text, without the rest of its record."""

    start: int
    end: int
    text: str


class Spanned(Protocol):
    """Anything with a span of an article and that span's text (a record or a piece)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def text(self) -> str: ...


class PassageTable(Sequence[PassageRecord]):
    """The passage table held column by column: loading it is a few array reads, and a
    :class:`PassageRecord` is only made for the rows that are looked at.

    Stored as ``passages.npz`` (the integer columns, sentence spans and text hashes),
    ``passages.txt`` (every passage's text, concatenated) and ``passage_articles.json``
    (the article ids the ``article`` column points into).
    """

    def __init__(self, article_ids: list[str], text: str, columns: dict[str, np.ndarray]) -> None:
        self.article_ids = article_ids
        self.text = text
        self.columns = columns
        self.article = columns["article"]
        self.ids = columns["id"]
        # Rows grouped by article, made at the first lookup: every answer looks up its quotes'
        # articles, and scanning the whole table for each cost time in proportion to its size.
        self._grouped: tuple[dict[str, int], np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_records(cls, records: Sequence[PassageRecord]) -> PassageTable:
        """The table of these records, held in the order of their ids."""
        records = sorted(records, key=lambda r: r.id)
        ids: dict[str, int] = {}
        spans = [s for r in records for s in r.sentences]
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        np.cumsum([len(r.text) for r in records], out=offsets[1:])
        columns = {
            "id": np.asarray([r.id for r in records], dtype=np.int64),
            "article": np.asarray([ids.setdefault(r.article_id, len(ids)) for r in records], dtype=np.int32),
            "ordinal": np.asarray([r.ordinal for r in records], dtype=np.int32),
            "paragraph": np.asarray([r.paragraph for r in records], dtype=np.int32),
            "start": np.asarray([r.start for r in records], dtype=np.int64),
            "end": np.asarray([r.end for r in records], dtype=np.int64),
            "text_offsets": offsets,
            "text_hash": np.asarray([r.text_hash for r in records], dtype="S40"),
            "sentence_indptr": np.concatenate([[0], np.cumsum([len(r.sentences) for r in records])]).astype(
                np.int64
            ),
            "sentence_spans": np.asarray(spans, dtype=np.int64).reshape(-1, 3),
            "sentence_rows": np.asarray([x for r in records for x in r.sentence_rows], dtype=np.int64),
        }
        return cls(list(ids), "".join(r.text for r in records), columns)

    def __len__(self) -> int:
        return len(self.article)

    @overload
    def __getitem__(self, i: int) -> PassageRecord: ...
    @overload
    def __getitem__(self, i: slice) -> list[PassageRecord]: ...
    def __getitem__(self, i: int | slice) -> PassageRecord | list[PassageRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        c = self.columns
        a, b = int(c["sentence_indptr"][i]), int(c["sentence_indptr"][i + 1])
        return PassageRecord(
            id=int(self.ids[i]),
            article_id=self.article_ids[int(self.article[i])],
            ordinal=int(c["ordinal"][i]),
            paragraph=int(c["paragraph"][i]),
            start=int(c["start"][i]),
            end=int(c["end"][i]),
            text=self.text[int(c["text_offsets"][i]) : int(c["text_offsets"][i + 1])],
            text_hash=c["text_hash"][i].decode("ascii"),
            sentences=tuple(tuple(int(x) for x in span) for span in c["sentence_spans"][a:b]),  # type: ignore[misc]
            sentence_rows=tuple(int(x) for x in c["sentence_rows"][a:b]),
        )

    def __iter__(self) -> Iterator[PassageRecord]:
        return (self[i] for i in range(len(self)))

    def rows_of(self, article_ids: set[str]) -> np.ndarray:
        """The row numbers of the passages of these articles, in order."""
        if self._grouped is None:
            order = np.argsort(self.article, kind="stable")
            bounds = np.searchsorted(self.article[order], np.arange(len(self.article_ids) + 1))
            self._grouped = ({a: n for n, a in enumerate(self.article_ids)}, order, bounds)
        number, order, bounds = self._grouped
        found = [order[bounds[n] : bounds[n + 1]] for a in article_ids if (n := number.get(a)) is not None]
        return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def pieces(self, rows: np.ndarray) -> list[Piece]:
        """The span and text of each of these rows, read straight from the columns."""
        c = self.columns
        offsets = c["text_offsets"]
        return [
            Piece(int(c["start"][r]), int(c["end"][r]), self.text[int(offsets[r]) : int(offsets[r + 1])])
            for r in rows
        ]

    def sentence_spans(self, rows: np.ndarray) -> np.ndarray:
        """The (start, end, paragraph) of every sentence of these rows, one row each."""
        indptr = self.columns["sentence_indptr"]
        first, counts = indptr[rows], indptr[rows + 1] - indptr[rows]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.columns["sentence_spans"][np.repeat(first, counts) + within]

    def ids_of(self, article_ids: set[str]) -> np.ndarray:
        """The passage ids of these articles."""
        return self.ids[self.rows_of(article_ids)]

    def has(self, pid: int) -> bool:
        """Whether the table holds the passage with this id."""
        row = int(np.searchsorted(self.ids, pid))
        return row < len(self.ids) and int(self.ids[row]) == pid

    def holds(self, ids: np.ndarray) -> np.ndarray:
        """A boolean per id: whether the table holds that passage."""
        if not len(self.ids):
            return np.zeros(len(ids), dtype=bool)
        rows = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return self.ids[rows] == ids

    def by_id(self, pid: int) -> PassageRecord:
        """The passage with this id.

        Raises:
            KeyError: the table holds no such passage.
        """
        if not self.has(pid):
            raise KeyError(pid)
        return self[int(np.searchsorted(self.ids, pid))]

    def text_hashes(self) -> list[str]:
        return [h.decode("ascii") for h in self.columns["text_hash"]]

    def save(self, folder: Path) -> None:
        with open(folder / "passages.npz", "wb") as handle:
            np.savez(handle, **self.columns)
        # newline="": the text's offsets count characters exactly, so no newline translation,
        # ever, on either side (a translated "\r\n" once made every load fail).
        with open(folder / "passages.txt", "w", encoding="utf-8", newline="") as handle:
            handle.write(self.text)
        (folder / "passage_articles.json").write_text(
            json.dumps(self.article_ids, ensure_ascii=False), "utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> PassageTable:
        with np.load(folder / "passages.npz") as arrays:
            columns = {name: arrays[name] for name in arrays.files}
        ids = json.loads((folder / "passage_articles.json").read_text(encoding="utf-8"))
        with open(folder / "passages.txt", encoding="utf-8", newline="") as handle:
            table = cls(ids, handle.read(), columns)
        n = len(table)
        if (
            len(columns["id"]) != n
            or (n > 1 and bool(np.any(np.diff(columns["id"]) <= 0)))
            or len(columns["text_offsets"]) != n + 1
            or int(columns["text_offsets"][-1]) != len(table.text)
            or len(columns["sentence_indptr"]) != n + 1
            or int(columns["sentence_indptr"][-1]) != len(columns["sentence_spans"])
            or (n and int(table.article.max()) >= len(ids))
        ):
            raise ValueError("the passage table's columns disagree")
        return table


@dataclass
class IndexData:
    """Everything one index generation holds, in memory."""

    manifest: Manifest
    passages: PassageTable
    store: PassageStore
    sentence_vectors: np.ndarray
    sentence_hashes: list[str]
    folder: Path | None = None

    @property
    def articles(self) -> dict[str, ArticleRecord]:
        """The record of each indexed article, by id."""
        return self.manifest.articles

    @property
    def model(self) -> str:
        return self.manifest.model

    def paragraph_text(self, article_id: str, paragraph: int) -> tuple[int, str]:
        """A paragraph's start offset and text, pieced together from the passages that hold it."""
        table = self.passages
        rows = table.rows_of({article_id})
        spans = table.sentence_spans(rows)
        spans = spans[spans[:, 2] == paragraph]
        if not len(spans):
            return 0, ""
        first, last = int(spans[:, 0].min()), int(spans[:, 1].max())
        columns = table.columns
        rows = rows[(columns["end"][rows] > first) & (columns["start"][rows] < last)]
        start, text = stitch(table.pieces(rows))
        return first, text[first - start : last - start]

    def article_text(self, article_id: str) -> tuple[int, str]:
        """Where an article's indexed text starts, and that text, pieced together from its passages."""
        return stitch(self.passages.pieces(self.passages.rows_of({article_id})))


def stitch(passages: Sequence[Spanned]) -> tuple[int, str]:
    """The text one article's passages cover, and its start offset in the article.

    Passages overlap by whole sentences. A gap between two holds only blanks (a paragraph
    break); it reads as a line break padded with spaces to its length, so that offset ``i`` of
    the article is character ``i - start`` of the text.
    """
    pieces: list[str] = []
    first = pos = None
    for p in sorted(passages, key=lambda p: p.start):
        if pos is None:
            first = pos = p.start
        elif p.end <= pos:
            continue
        elif p.start > pos:
            pieces.append("\n" + " " * (p.start - pos - 1))
            pos = p.start
        pieces.append(p.text[pos - p.start :])
        pos = p.end
    return first or 0, "".join(pieces)


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_index(root: Path, data: IndexData) -> Path:
    """Write a new generation under ``root`` and make it the live one.

    Returns:
        The generation folder.

    Raises:
        IndexWriteError: the disk is full or the folder read-only; the partial
            generation is removed and the live index is unchanged.
    """
    name = f"g-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = root / f".tmp-{name}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        manifest = _write_generation(tmp, data)
        final = root / name
        tmp.rename(final)
    except OSError as exc:
        # The partial generation would hold the very space a retry needs.
        shutil.rmtree(tmp, ignore_errors=True)
        raise IndexWriteError.from_os_error(exc, "the new index") from exc
    try:
        _fsync_write(root / ".CURRENT.tmp", name.encode("utf-8"))
        os.replace(root / ".CURRENT.tmp", root / "CURRENT")
        _fsync_dir(root)
    except OSError as exc:
        shutil.rmtree(final, ignore_errors=True)
        (root / ".CURRENT.tmp").unlink(missing_ok=True)
        raise IndexWriteError.from_os_error(exc, "the index's CURRENT file") from exc
    data.manifest = manifest
    data.folder = final
    _remove_stale(root, keep=name)
    return final


def _write_generation(tmp: Path, data: IndexData) -> Manifest:
    """Write every file of a generation into ``tmp``, fsynced, manifest last; returns the manifest."""
    data.passages.save(tmp)
    np.save(tmp / "sentences.npy", np.ascontiguousarray(data.sentence_vectors, dtype=np.float16))
    (tmp / "sentence_hashes.json").write_text(json.dumps(data.sentence_hashes), encoding="utf-8")
    files = [*GENERATION_FILES, *data.store.save(tmp)]
    for fname in files:
        with open(tmp / fname, "rb+") as handle:
            os.fsync(handle.fileno())
    manifest = replace(
        data.manifest,
        store=data.store.describe(),
        files={f: (tmp / f).stat().st_size for f in files},
        sha256={f: _sha256(tmp / f) for f in files},
    )
    text = json.dumps(manifest.to_json(), ensure_ascii=False, indent=1)
    _fsync_write(tmp / "manifest.json", text.encode("utf-8"))
    _fsync_dir(tmp)
    return manifest


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _remove_stale(root: Path, keep: str) -> None:
    """Delete older generations and leftovers of interrupted writes."""
    for entry in root.iterdir():
        if entry.is_dir() and entry.name != keep and entry.name.startswith(("g-", ".tmp-g-")):
            shutil.rmtree(entry, ignore_errors=True)


def remove_partial(root: Path) -> None:
    """Delete what interrupted writes left (``.tmp-g-*`` folders, ``.CURRENT.tmp``).

    Called under the update lock before an update starts, so no writer is using them; a
    leftover of a write that failed on a full disk would otherwise keep that space taken.
    """
    if not root.is_dir():
        return
    for entry in root.glob(".tmp-g-*"):
        shutil.rmtree(entry, ignore_errors=True)
    (root / ".CURRENT.tmp").unlink(missing_ok=True)


def current_generation(root: Path) -> Path:
    """The live generation folder.

    Raises:
        IndexNotFound: nothing has been built in ``root``.
        IndexCorrupt: ``CURRENT`` is damaged or names a folder that is not there.
    """
    pointer = root / "CURRENT"
    if not pointer.is_file():
        raise IndexNotFound(f"no index in {root}: run `assistant index build` first")
    try:
        name = pointer.read_bytes().decode("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(
            f"the index's CURRENT file is unreadable ({exc.__class__.__name__}); {REBUILD_HINT}"
        ) from exc
    if not _GENERATION.fullmatch(name):
        raise IndexCorrupt(f"the index's CURRENT file does not name a generation; {REBUILD_HINT}")
    folder = root / name
    if not folder.is_dir():
        raise IndexCorrupt(f"the index's CURRENT file names a missing folder {name!r}; {REBUILD_HINT}")
    return folder


def read_manifest(root: Path) -> Manifest:
    """The live generation's manifest, checked for the keys loading relies on.

    Raises:
        IndexNotFound, IndexCorrupt: with the command that fixes it.
    """
    folder = current_generation(root)
    try:
        raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(
            f"the manifest of index {folder.name} is unreadable ({exc}); {REBUILD_HINT}"
        ) from exc
    try:
        return Manifest.from_json(raw)
    except ManifestProblem as exc:
        raise IndexCorrupt(f"the manifest of index {folder.name} is damaged ({exc}); {REBUILD_HINT}") from exc


def older_vectors(root: Path, model: str) -> tuple[list[str], np.ndarray] | None:
    """The text hashes and vectors of a live index of format 3 made by ``model``, else None.

    Format 3 named passages by row (``vectors.npy`` row i is passage i). An update that meets
    such an index rebuilds it in this format from the corpus, and these vectors spare it from
    embedding again what the old index already holds. An index that cannot be read gives None.
    """
    try:
        manifest = read_manifest(root)
        if manifest.format != 3 or manifest.model != model:
            return None
        folder = current_generation(root)
        with np.load(folder / "passages.npz") as table:
            hashes = [h.decode("ascii") if isinstance(h, bytes) else str(h) for h in table["text_hash"]]
        vectors = np.load(folder / "vectors.npy")
        sentence_hashes = json.loads((folder / "sentence_hashes.json").read_text(encoding="utf-8"))
        sentences = np.load(folder / "sentences.npy").astype(np.float32)
    except (AssistantError, KeyError, *DAMAGED_FILE) as exc:
        logger.info("the older index's vectors cannot be reused: %s", exc)
        return None
    if len(hashes) != len(vectors) or len(sentence_hashes) != len(sentences) or vectors.ndim != 2:
        return None
    return hashes + sentence_hashes, np.concatenate([vectors.astype(np.float32), sentences])


def _check_format(manifest: Manifest) -> None:
    if manifest.format == 3:
        raise IndexMismatch(
            f"the index has format 3, this version reads {FORMAT_VERSION}; run `assistant index update` "
            "to rebuild it (the vectors it holds are reused, nothing is embedded again)"
        )
    if manifest.format != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index has format {manifest.format}, this version reads {FORMAT_VERSION}; {REBUILD_HINT}"
        )


def check_compatible(manifest: Manifest, model: str, chunking: dict[str, Any], store: str = "faiss") -> None:
    """Refuse an index built by another model, chunking, format or store.

    Raises:
        IndexMismatch: with the command that fixes it.
    """
    _check_format(manifest)
    assert manifest.store is not None  # format 4 has one (Manifest.from_json)
    check_store(manifest.store, store)
    if manifest.model != model:
        raise IndexMismatch(
            f"the index was built with model {manifest.model!r} but {model!r} is selected; "
            f"{REBUILD_HINT} with this model, or select the index's model with "
            f"--model / ASSISTANT_MODEL={manifest.model}"
        )
    if manifest.chunking != chunking:
        raise IndexMismatch(
            f"the index was built with chunking {manifest.chunking}, not {chunking}; {REBUILD_HINT}"
        )


def load_index(root: Path, verify: bool = False) -> IndexData:
    """Load the live generation, checking that its files are whole and agree with each other.

    Args:
        root: the index folder.
        verify: hash the memory-mapped vector files too (every other file is always hashed).

    Raises:
        IndexNotFound, IndexCorrupt, IndexMismatch: with the command that fixes it.
    """
    folder = current_generation(root)
    manifest = read_manifest(root)
    _check_format(manifest)  # an older layout is not damaged, just old: say so, not "corrupt"
    assert manifest.store is not None  # format 4 has one (Manifest.from_json)
    mapped = _MAPPED | store_files(manifest.store)[1]
    try:
        for fname, size in manifest.files.items():
            actual = (folder / fname).stat().st_size
            if actual != size:
                raise IndexCorrupt(f"{fname} is {actual} bytes, the manifest says {size}")
        # Indexes written before checksums have none; their sizes were checked above.
        for fname, digest in (manifest.sha256 or {}).items():
            if (verify or fname not in mapped) and _sha256(folder / fname) != digest:
                raise IndexCorrupt(f"{fname} does not match its checksum")
        passages = PassageTable.load(folder)
        # Mapped, not read: pages load as searches touch them, and serve starts sooner.
        sentence_vectors = np.load(folder / "sentences.npy", mmap_mode="r")
        sentence_hashes = json.loads((folder / "sentence_hashes.json").read_text(encoding="utf-8"))
        store = load_store(manifest.store, folder, manifest.dimension)
    except IndexCorrupt as exc:
        raise IndexCorrupt(f"index {folder.name} is damaged: {exc}; {REBUILD_HINT}") from exc
    except _DAMAGE as exc:
        raise IndexCorrupt(
            f"index {folder.name} is damaged ({exc.__class__.__name__}: {exc}); {REBUILD_HINT}"
        ) from exc
    # A shared store (a server) may hold more points than the live generation; see stores/base.py.
    # Fewer means it lost some (a Lite .db removed, replaced by an older copy, its collection
    # dropped): searches would quietly miss them, and an update would keep the loss.
    if store.shared and (held := store.count()) < len(passages):
        raise IndexCorrupt(
            f"index {folder.name} is damaged: its store holds {held} of the index's {len(passages)} "
            f"passages (removed, replaced by an older copy or dropped); {REBUILD_HINT}"
        )
    counts = {len(passages), manifest.counts.passages, *([] if store.shared else [store.count()])}
    rows = int(passages.columns["sentence_rows"].max(initial=-1))
    if len(counts) != 1 or len(sentence_hashes) != len(sentence_vectors) or rows >= len(sentence_vectors):
        raise IndexCorrupt(f"the files of index {folder.name} disagree on their counts; {REBUILD_HINT}")
    return IndexData(manifest, passages, store, sentence_vectors, sentence_hashes, folder)


def current_stamp(root: Path) -> tuple[int, int, int] | None:
    """A cheap fingerprint of ``CURRENT`` (one ``stat``), to notice another process's update.

    ``CURRENT`` is replaced by a rename, so a new generation changes its inode even
    within one mtime tick. None when there is no ``CURRENT``.
    """
    try:
        st = (root / "CURRENT").stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
