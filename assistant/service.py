"""The assistant as a long-lived object: model and index loaded once, then asked."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from assistant import runtime
from assistant.answer import Answer, Answerer
from assistant.config import Settings
from assistant.embedding import EmbedderLike
from assistant.errors import IndexNotFound
from assistant.indexing import BuildReport, Progress, update_index
from assistant.retrieval import Filter, Mode, Retriever
from assistant.store import (
    IndexData,
    check_compatible,
    current_generation,
    current_stamp,
    load_index,
    read_manifest,
)

logger = logging.getLogger(__name__)


def make_embedder(settings: Settings) -> EmbedderLike:
    """Load the configured sentence-transformers model (slow: seconds)."""
    from assistant.embedding import Embedder

    return Embedder(settings.model)


class Assistant:
    """Holds one model and the live index; safe to ask from several threads.

    An update made by another process (``assistant index update`` beside a running
    ``serve``) is noticed by a question and swapped in as :meth:`update` swaps its own.

    Args:
        settings: paths and model.
        embedder: a loaded model, or None to load ``settings.model``.
        build_if_missing: build the index from the corpus when there is none.
        recheck_seconds: how often at most a question looks for a new live generation.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: EmbedderLike | None = None,
        build_if_missing: bool = False,
        recheck_seconds: float = 1.0,
    ) -> None:
        runtime.configure("serve")  # before FAISS and the model load their OpenMP runtimes
        self.settings = settings
        self.recheck_seconds = recheck_seconds
        # Held while a generation is loaded and swapped in, so that one load serves everyone.
        self._swap_lock = threading.Lock()
        self._checked_at = time.monotonic()
        if build_if_missing:
            try:
                read_manifest(settings.index_dir)
            except IndexNotFound:
                logger.warning(
                    "no index in %s yet: building it from %s", settings.index_dir, settings.corpus_dir
                )
                self.embedder = embedder or make_embedder(settings)
                update_index(settings, self.embedder, show_progress=True)
        check_compatible(
            read_manifest(settings.index_dir), settings.model, asdict(settings.chunk), settings.store
        )
        # Stamped before the load: a generation made live meanwhile is picked up by the next check.
        self._stamp = current_stamp(settings.index_dir)
        # Read the index while the model loads: both take seconds, and the index is mostly file I/O.
        with ThreadPoolExecutor(1) as pool:
            index = pool.submit(load_index, settings.index_dir)
            self.embedder = embedder or getattr(self, "embedder", None) or make_embedder(settings)
            self.answerer = self._answerer(index.result())

    def _answerer(self, index: IndexData) -> Answerer:
        check_compatible(
            index.manifest, self.embedder.model_id, asdict(self.settings.chunk), self.settings.store
        )
        settings = self.settings
        retriever = Retriever(index, self.embedder, settings.fusion)
        return Answerer(retriever, settings.answer, settings.max_question_chars, settings.follow_up)

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        mode: Mode = "hybrid",
        where: Filter | None = None,
    ) -> Answer:
        """Answer from the index that is live when the question arrives."""
        self._follow_current()
        answerer = self.answerer
        return answerer.ask(question, history=history, mode=mode, where=where)

    @property
    def index(self) -> IndexData:
        """The live index, after looking for one another process made live (what the page shows)."""
        self._follow_current()
        return self.answerer.retriever.index

    def update(self, full: bool = False, progress: Progress | None = None) -> BuildReport:
        """Update the index from the corpus, then swap it in for later questions.

        Questions asked meanwhile are answered from the index that was live
        when they arrived; the swap is one assignment.

        Raises:
            IndexBusy: another update is running.
        """
        report = update_index(self.settings, self.embedder, full=full, progress=progress)
        with self._swap_lock:
            self._stamp = current_stamp(self.settings.index_dir)
            self.answerer = self._answerer(load_index(self.settings.index_dir))
        return report

    def _follow_current(self) -> None:
        """Swap in the live generation if another process changed it since the last look.

        One ``stat`` of ``CURRENT`` at most every ``recheck_seconds``; the question that
        notices a change loads the new generation while other questions go on with the
        old one. A generation that cannot be loaded is logged and the old one kept.
        """
        now = time.monotonic()
        if now - self._checked_at < self.recheck_seconds or not self._swap_lock.acquire(blocking=False):
            return
        try:
            self._checked_at = now
            stamp = current_stamp(self.settings.index_dir)
            if stamp == self._stamp:
                return
            self._stamp = stamp
            live = self.answerer.retriever.index.folder
            try:
                if current_generation(self.settings.index_dir) != live:
                    self.answerer = self._answerer(load_index(self.settings.index_dir))
                    logger.info("swapped in the index generation made live by another process")
            except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, the old index still answers
                logger.warning(
                    "the index in %s changed but cannot be loaded, still answering from %s: %s",
                    self.settings.index_dir,
                    live.name if live else "the old index",
                    exc,
                )
        finally:
            self._swap_lock.release()
