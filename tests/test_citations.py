"""Every quote shown is the article's own text at the cited offsets, for many questions."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.indexing import update_index
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import SEED_DIR, FakeEmbedder


def test_every_quote_is_an_exact_substring_at_its_offsets(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    shutil.copytree(SEED_DIR, settings.corpus_dir, dirs_exist_ok=True)
    update_index(settings, fake_embedder)
    index = load_index(settings.index_dir)
    answerer = Answerer(Retriever(index, fake_embedder))
    texts = {p.name: p.read_text(encoding="utf-8") for p in Path(settings.corpus_dir).glob("*.txt")}
    # Questions made from the articles' own clauses: the first 14 characters of every clause.
    questions = sorted(
        {c[:14] + "？" for t in texts.values() for c in re.split(r"[。！？；，]", t) if len(c.strip()) >= 10}
    )[:150]
    quoted = 0
    for question in questions:
        answer = answerer.ask(question)
        for q in answer.quotes:
            text = texts[q.article_id]
            assert text[q.start : q.end] == q.quote, question
            assert text[q.passage_start : q.passage_end] == q.passage
            assert q.passage_start <= q.start < q.end <= q.passage_end
            start, paragraph = index.paragraph_text(q.article_id, q.paragraph)
            assert text[start : start + len(paragraph)] == paragraph and q.quote in paragraph
            assert q.citation.endswith(f"第{q.paragraph}段：“{q.quote}”")
            quoted += 1
    assert quoted >= len(questions) == 150
