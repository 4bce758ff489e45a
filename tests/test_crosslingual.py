from __future__ import annotations

import numpy as np
import pytest

from assistant.crosslingual import TermGroup, term_groups
from assistant.lexical import BM25, tokenize
from assistant.quoting import FEATURES, build_candidates
from assistant.retrieval import Hit
from assistant.store import PassageRecord

WORDS = FEATURES.index("words")


def groups_of(question: str) -> dict[str, TermGroup]:
    return {g.english: g for g in term_groups(question)}


def test_words_and_phrases_take_their_dictionary_translations() -> None:
    groups = groups_of("When did Yeltsin sign the decree ordering the ruble redenomination?")
    assert "卢布" in groups["ruble"].chinese
    assert "叶利钦" in groups["Yeltsin"].chinese
    assert "签署" in groups["sign"].chinese
    # A phrase the dictionary glosses is one group, not two words.
    council = groups_of("Who chaired the UN Security Council in December?")
    assert any("安理会" in g.chinese for g in council.values())
    assert "chain stores" in groups_of("How many chain stores did it open?")


def test_question_and_function_words_are_not_matched() -> None:
    assert not {"How", "many", "did", "the", "in", "Which", "What"} & set(
        groups_of("How many chain stores did the company open in Which What?")
    )


@pytest.mark.parametrize(
    ("question", "name", "text"),
    [
        ("What was the title of the concert Zhou Xiaoyan's students put on?", "Zhou Xiaoyan", "周小燕的学生"),
        ("How many chain stores did Tiankelong open?", "Tiankelong", "天客隆去年新开"),
        ("Which drama troupe staged the play Hu Ju Zhong Shan?", "Hu Ju Zhong Shan", "《虎踞钟山》是"),
    ],
)
def test_a_name_in_pinyin_matches_the_characters_that_read_so(question: str, name: str, text: str) -> None:
    group = groups_of(question)[name]
    assert group.found_in(text)
    # Never across punctuation or out of other characters.
    assert not group.found_in("，".join(text))
    assert not group.found_in("北京市政府今天宣布")


def test_an_english_question_matches_the_sentence_that_holds_its_words() -> None:
    text = "俄罗斯新卢布今天上市。这次改值是根据叶利钦１９９７年８月４日签署的命令实施的。居民排起长龙。"
    sentences = ((0, 10, 1), (10, 39, 1), (39, 46, 1))
    passage = PassageRecord(0, "a.txt", 0, 1, 0, len(text), text, "h", sentences, (0, 1, 2))
    question = "When did Yeltsin sign the decree ordering the ruble redenomination?"
    vectors = np.asarray([[1.0, 0.0]] * 3, dtype=np.float16)
    bm25 = BM25().fit([tokenize(text)])
    candidates = build_candidates(
        question,
        tokenize(question),
        [Hit(passage, 1.0)],
        bm25,
        5,
        vectors,
        np.asarray([1.0, 0.0], np.float32),
    )
    words = {c.text: c.features[WORDS] for c in candidates}
    signed = text[10:39]
    assert words[signed] > words[text[0:10]] > 0
    assert words[text[39:46]] == 0
