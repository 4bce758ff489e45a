"""Shared fixtures: a fake embedding model, and all paths pointed at a temp dir."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from assistant import runtime, service
from assistant.answer import Answerer
from assistant.config import Settings
from assistant.indexing import update_index
from assistant.lexical import bigrams_of
from assistant.retrieval import Retriever
from assistant.store import load_index

SEED_DIR = Path(__file__).resolve().parents[1] / "corpus"


class FakeEmbedder:
    """Character-bigram hashing vectors: fast, deterministic, roughly lexical.

    Like e5, whose cosines between unrelated Chinese texts sit near 0.8, every
    vector shares a common direction, so the calibrated quote and abstention
    models see similarities in the range they were fitted on.
    """

    model_id = "fake-bigram-hash"
    dim = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for gram in bigrams_of(text):
            v[1 + int(hashlib.md5(gram.encode()).hexdigest(), 16) % (self.dim - 1)] += 1.0
        norm = np.linalg.norm(v)
        v = v / norm * np.sqrt(0.2) if norm else v
        v[0] = np.sqrt(0.8)
        return v / np.linalg.norm(v)

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(autouse=True)
def isolated_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real corpus/ or index/ by accident."""
    monkeypatch.setenv("ASSISTANT_CORPUS", str(tmp_path / "corpus"))
    monkeypatch.setenv("ASSISTANT_INDEX", str(tmp_path / "index"))
    monkeypatch.delenv("ASSISTANT_MODEL", raising=False)
    monkeypatch.delenv("ASSISTANT_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("ASSISTANT_ALLOWED_HOSTS", raising=False)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands load FakeEmbedder, selected by its model id, instead of the real model."""
    monkeypatch.setattr(service, "make_embedder", lambda settings: FakeEmbedder())
    monkeypatch.setenv("ASSISTANT_MODEL", FakeEmbedder.model_id)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "corpus").mkdir(exist_ok=True)
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model=FakeEmbedder.model_id)


def answerer_over(settings: Settings, embedder: FakeEmbedder, article: str) -> Answerer:
    """An answerer over an index of one article (``a.txt``), built with ``embedder``."""
    write_article(settings.corpus_dir, "a.txt", article)
    update_index(settings, embedder)
    return Answerer(Retriever(load_index(settings.index_dir), embedder))


def write_article(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test configures threads afresh and leaves no OMP_* behind for later tests' subprocesses."""
    monkeypatch.setattr(runtime, "_configured", None)
    monkeypatch.setattr(runtime, "lower_priority", lambda: None)  # never nice the test run itself
    for name in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
