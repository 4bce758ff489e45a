"""A crash-safe embedding cache beside the index: what was embedded stays embedded.

Vectors are keyed by model and text hash. Each batch is written as its own
small ``.npz`` file (temporary name, fsync, rename), so a build killed with
``kill -9`` keeps every batch it finished and the next build embeds only the
rest. Once a build's index generation is live, its vectors are in it and the
batch files are deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from assistant.errors import DAMAGED_FILE, IndexWriteError

logger = logging.getLogger(__name__)


class EmbeddingCache:
    """Vectors by text hash for one model, in memory and in ``<index>/.cache/<model>/``.

    Args:
        index_dir: the index folder.
        model_id: the model whose vectors these are.
    """

    def __init__(self, index_dir: Path, model_id: str) -> None:
        self.folder = self.folder_of(index_dir, model_id)
        self.vectors: dict[str, np.ndarray] = {}
        self.damaged: list[str] = []
        for batch in sorted(self.folder.glob("batch-*.npz")) if self.folder.is_dir() else []:
            try:
                with np.load(batch) as data:
                    hashes, vectors = data["hashes"].tolist(), data["vectors"]
                if vectors.ndim != 2 or not all(isinstance(h, str) for h in hashes):
                    raise ValueError(f"vectors of shape {vectors.shape}")
                self.vectors.update(zip(hashes, vectors, strict=True))
            except DAMAGED_FILE as exc:
                # Only a cache: its texts are embedded again. Deleted, so it warns once.
                self.damaged.append(f"{batch.name} ({exc.__class__.__name__}: {exc})")
                logger.warning(
                    "skipping a damaged embedding cache file %s (%s); its texts are embedded again",
                    batch.name,
                    exc,
                )
                batch.unlink(missing_ok=True)

    def __contains__(self, key: str) -> bool:
        return key in self.vectors

    def __len__(self) -> int:
        return len(self.vectors)

    def add(self, hashes: list[str], vectors: np.ndarray, persist: bool = True) -> None:
        """Remember vectors; with ``persist``, write them to disk before returning.

        Raises:
            IndexWriteError: the batch could not be written (disk full, read-only).
        """
        self.vectors.update(zip(hashes, vectors, strict=True))
        if not persist or not hashes:
            return
        name = f"batch-{uuid.uuid4().hex}"
        tmp = self.folder / f".{name}.npz"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                np.savez(handle, hashes=np.asarray(hashes), vectors=np.asarray(vectors, dtype=np.float32))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.folder / f"{name}.npz")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise IndexWriteError.from_os_error(exc, "the embedding cache (index/.cache)") from exc

    @staticmethod
    def folder_of(index_dir: Path, model_id: str) -> Path:
        """Where the batch files of ``model_id`` live."""
        return index_dir / ".cache" / hashlib.sha1(model_id.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def clear_folder(cls, index_dir: Path, model_id: str) -> None:
        """Delete a model's batch files without reading them."""
        shutil.rmtree(cls.folder_of(index_dir, model_id), ignore_errors=True)

    def clear_disk(self) -> None:
        """Delete the batch files: the live index now holds their vectors."""
        shutil.rmtree(self.folder, ignore_errors=True)
