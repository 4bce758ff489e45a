"""The assistant as a long-lived object: model and index loaded once, then asked."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from assistant.answer import Answer, Answerer
from assistant.config import Settings
from assistant.errors import IndexNotFound
from assistant.indexing import BuildReport, EmbedderLike, Progress, update_index
from assistant.retrieval import Filter, Mode, Retriever
from assistant.store import IndexData, check_compatible, load_index, read_manifest

logger = logging.getLogger(__name__)


def make_embedder(settings: Settings) -> EmbedderLike:
    """Load the configured sentence-transformers model (slow: seconds)."""
    from assistant.embedding import Embedder

    return Embedder(settings.model)


class Assistant:
    """Holds one model and the live index; safe to ask from several threads.

    Args:
        settings: paths and model.
        embedder: a loaded model, or None to load ``settings.model``.
        build_if_missing: build the index from the corpus when there is none.
    """

    def __init__(
        self, settings: Settings, embedder: EmbedderLike | None = None, build_if_missing: bool = False
    ) -> None:
        self.settings = settings
        if build_if_missing:
            try:
                read_manifest(settings.index_dir)
            except IndexNotFound:
                logger.warning(
                    "no index in %s yet: building it from %s", settings.index_dir, settings.corpus_dir
                )
                self.embedder = embedder or make_embedder(settings)
                update_index(settings, self.embedder, show_progress=True)
        check_compatible(read_manifest(settings.index_dir), settings.model, asdict(settings.chunk))
        # Read the index while the model loads: both take seconds, and the index is mostly file I/O.
        with ThreadPoolExecutor(1) as pool:
            index = pool.submit(load_index, settings.index_dir)
            self.embedder = embedder or getattr(self, "embedder", None) or make_embedder(settings)
            self.answerer = self._answerer(index.result())

    def _answerer(self, index: IndexData) -> Answerer:
        check_compatible(index.manifest, self.embedder.model_id, asdict(self.settings.chunk))
        return Answerer(Retriever(index, self.embedder), max_question_chars=self.settings.max_question_chars)

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        mode: Mode = "hybrid",
        where: Filter | None = None,
    ) -> Answer:
        """Answer from the index that is live when the question arrives."""
        answerer = self.answerer
        return answerer.ask(question, history=history, mode=mode, where=where)

    def update(self, full: bool = False, progress: Progress | None = None) -> BuildReport:
        """Update the index from the corpus, then swap it in for later questions.

        Questions asked meanwhile are answered from the index that was live
        when they arrived; the swap is one assignment.

        Raises:
            IndexBusy: another update is running.
        """
        report = update_index(self.settings, self.embedder, full=full, progress=progress)
        self.answerer = self._answerer(load_index(self.settings.index_dir))
        return report
