"""The manifest of an index generation (``manifest.json``) and the record it keeps of each article.

:class:`Manifest` and :class:`ArticleRecord` are frozen: a change during indexing makes a new
record (:func:`dataclasses.replace`), so no module changes another's copy behind its back.
``from_json`` checks the shape loading relies on and says what is wrong in a
:class:`ManifestProblem`; ``to_json`` gives the JSON written to disk, key for key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.stores import store_files

# 4: stable passage ids (an "id" column) and the store's files named by the manifest's "store".
FORMAT_VERSION = 4
# The files every generation has besides the store's; the manifest is written last.
GENERATION_FILES = (
    "passages.npz",
    "passages.txt",
    "passage_articles.json",
    "sentences.npy",
    "sentence_hashes.json",
)


class ManifestProblem(ValueError):
    """What is wrong with a manifest's shape, e.g. ``no 'counts'``."""


@dataclass(frozen=True)
class ArticleRecord:
    """What the manifest records of an indexed article.

    ``content_hash`` tells an update whether the file changed, ``minhash`` finds near-duplicates,
    ``also_in`` lists the copies indexed as this one, ``pages`` the offset where each page starts
    (paged formats), ``record`` the record's key in its export file, ``questions`` the example
    questions its front matter lists (``|``-separated).
    """

    title: str
    content_hash: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    author: str | None = None
    path: str = ""
    encoding: str = ""
    questions: str | None = None
    format: str = "text"
    record: str | None = None
    pages: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    minhash: tuple[int, ...] = ()
    also_in: tuple[str, ...] = ()
    passages: int = 0
    indexed_at: str = ""

    @classmethod
    def from_json(cls, raw: Any) -> ArticleRecord:
        """The record of one ``articles`` entry.

        Raises:
            ManifestProblem: it is not an object, or a field is missing or of the wrong type.
        """
        if not isinstance(raw, dict):
            raise ManifestProblem("not a JSON object")
        values: dict[str, Any] = {}
        for name, (kind, item, required) in _ARTICLE_FIELDS.items():
            if name not in raw:
                if required:
                    raise ManifestProblem(f"no {name!r}")
                continue
            value = raw[name]
            if not isinstance(value, kind) or (item and not all(isinstance(v, item) for v in value)):
                raise ManifestProblem(f"a bad {name!r}")
            values[name] = tuple(value) if item else value
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The entry as written to ``manifest.json``."""
        return {
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "url": self.url,
            "author": self.author,
            "path": self.path,
            "encoding": self.encoding,
            "content_hash": self.content_hash,
            "questions": self.questions,
            "format": self.format,
            "record": self.record,
            "pages": list(self.pages),
            "warnings": list(self.warnings),
            "minhash": list(self.minhash),
            "also_in": list(self.also_in),
            "passages": self.passages,
            "indexed_at": self.indexed_at,
        }


_OPTIONAL_STR = (str, type(None))
# name: (its JSON type, the type of its items if it is a list, whether it must be there)
_ARTICLE_FIELDS: dict[str, tuple[type | tuple[type, ...], type | None, bool]] = {
    "title": (str, None, True),
    "content_hash": (str, None, True),
    "date": (_OPTIONAL_STR, None, False),
    "source": (_OPTIONAL_STR, None, False),
    "url": (_OPTIONAL_STR, None, False),
    "author": (_OPTIONAL_STR, None, False),
    "path": (str, None, False),
    "encoding": (str, None, False),
    "questions": (_OPTIONAL_STR, None, False),
    "format": (str, None, False),
    "record": (_OPTIONAL_STR, None, False),
    "pages": (list, int, False),
    "warnings": (list, str, False),
    "minhash": (list, int, False),
    "also_in": (list, str, False),
    "passages": (int, None, False),
    "indexed_at": (str, None, False),
}


@dataclass(frozen=True)
class Counts:
    """How many articles, passages and sentence vectors a generation holds (``sentences`` is
    missing from indexes written before it was counted)."""

    articles: int
    passages: int
    sentences: int | None = None

    def to_json(self) -> dict[str, int]:
        """The counts as written to ``manifest.json``."""
        out = {"articles": self.articles, "passages": self.passages}
        if self.sentences is not None:
            out["sentences"] = self.sentences
        return out


@dataclass(frozen=True)
class Manifest:
    """One generation's manifest.

    ``store`` describes the passage store (:mod:`assistant.stores`); ``files`` and ``sha256``
    give each file's size and hash, filled in when the generation is written (an index written
    before checksums has no ``sha256``). ``extra`` keeps keys this version does not know (a
    format-3 index's ``faiss``), as they are.
    """

    format: int
    model: str
    counts: Counts
    articles: dict[str, ArticleRecord]
    dimension: int = 0
    chunking: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    next_passage_id: int = 0
    built_at: str = ""
    skipped: tuple[str, ...] = ()
    build_seconds: float = 0.0
    store: dict[str, Any] | None = None
    files: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Any) -> Manifest:
        """The manifest in ``raw`` (parsed ``manifest.json``), checked for what loading relies on.

        Raises:
            ManifestProblem: e.g. ``no 'counts'``, ``no passage count``, ``the file list is incomplete``.
        """
        if not isinstance(raw, dict):
            raise ManifestProblem("not a JSON object")
        for key, kind in (
            ("format", int),
            ("model", str),
            ("files", dict),
            ("counts", dict),
            ("articles", dict),
        ):
            if not isinstance(raw.get(key), kind):
                raise ManifestProblem(f"no {key!r}")
        counts = raw["counts"]
        if not isinstance(counts.get("passages"), int):
            raise ManifestProblem("no passage count")
        if raw["format"] == FORMAT_VERSION:
            if not isinstance(raw.get("store"), dict):
                raise ManifestProblem("no 'store'")
            if set(raw["files"]) != {*GENERATION_FILES, *store_files(raw["store"])[0]}:
                raise ManifestProblem("the file list is incomplete")
            if not isinstance(raw.get("dimension"), int):
                raise ManifestProblem("no 'dimension'")
        articles: dict[str, ArticleRecord] = {}
        for article_id, entry in raw["articles"].items():
            try:
                articles[article_id] = ArticleRecord.from_json(entry)
            except ManifestProblem as exc:
                raise ManifestProblem(f"article {article_id!r}: {exc}") from exc
        for key, kind in _OPTIONAL.items():
            if key in raw and not isinstance(raw[key], kind):
                raise ManifestProblem(f"a bad {key!r}")
        if not all(isinstance(s, str) for s in raw.get("skipped", [])):
            raise ManifestProblem("a bad 'skipped'")
        sentences = counts.get("sentences")
        return cls(
            format=raw["format"],
            model=raw["model"],
            counts=Counts(
                articles=counts["articles"] if isinstance(counts.get("articles"), int) else len(articles),
                passages=counts["passages"],
                sentences=sentences if isinstance(sentences, int) else None,
            ),
            articles=articles,
            dimension=raw.get("dimension", 0),
            chunking=raw.get("chunking", {}),
            versions=raw.get("versions", {}),
            next_passage_id=raw.get("next_passage_id", 0),
            built_at=raw.get("built_at", ""),
            skipped=tuple(raw.get("skipped", ())),
            build_seconds=raw.get("build_seconds", 0.0),
            store=raw.get("store"),
            files=raw["files"],
            sha256=raw.get("sha256"),
            extra={k: v for k, v in raw.items() if k not in _KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest as written to ``manifest.json``."""
        out: dict[str, Any] = {
            "format": self.format,
            "model": self.model,
            "dimension": self.dimension,
            "chunking": self.chunking,
            "versions": self.versions,
            "counts": self.counts.to_json(),
            "next_passage_id": self.next_passage_id,
            "built_at": self.built_at,
            "articles": {a: record.to_json() for a, record in self.articles.items()},
            "skipped": list(self.skipped),
            "build_seconds": self.build_seconds,
        }
        if self.store is not None:
            out["store"] = self.store
        out["files"] = self.files
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        return {**out, **self.extra}


# Keys that are checked only when present; "store" and "dimension" are required in format 4.
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "dimension": int,
    "chunking": dict,
    "versions": dict,
    "next_passage_id": int,
    "built_at": str,
    "skipped": list,
    "build_seconds": (int, float),
    "store": dict,
    "sha256": dict,
}
_KNOWN = frozenset({"format", "model", "counts", "articles", "files", *_OPTIONAL})
