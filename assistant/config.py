"""One frozen settings object: paths, model, chunk sizes and answer knobs.

Every value has a default; ``ASSISTANT_CORPUS``, ``ASSISTANT_INDEX``,
``ASSISTANT_MODEL``, ``ASSISTANT_STORE`` and ``ASSISTANT_RECORD_FIELDS`` override the
paths, the model, the passage store and the export column names, and the CLI's options
override both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.corpus import MAX_ARTICLE_BYTES
from assistant.embedding import DEFAULT_MODEL


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
