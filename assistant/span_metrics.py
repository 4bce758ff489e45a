"""Score an answer span the way CMRC 2018's official script does: exact match and character F1.

Both lowercase and drop punctuation; F1 counts the longest common substring of the two
segmentations (Chinese characters one by one, runs of Latin letters and digits as words),
and both take the best over the gold answers.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = frozenset(
    "-:_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』" + string.punctuation + "\u3000 \t\n"
)
_CJK = re.compile(r"[\u4e00-\u9fa5]")


def segments(text: str) -> list[str]:
    """Lowercased, punctuation dropped; each Chinese character alone, other runs as words."""
    out: list[str] = []
    word = ""
    for ch in text.lower().strip():
        if _CJK.match(ch) or ch in _PUNCTUATION:
            out += re.findall(r"\w+", word)
            word = ""
            if ch not in _PUNCTUATION:
                out.append(ch)
        else:
            word += ch
    return out + re.findall(r"\w+", word)


def _stripped(text: str) -> str:
    return "".join(ch for ch in text.lower().strip() if ch not in _PUNCTUATION)


def exact_match(prediction: str, answers: list[str] | tuple[str, ...]) -> float:
    """1.0 when the prediction equals a gold answer, punctuation and case aside."""
    return float(any(_stripped(prediction) == _stripped(a) for a in answers))


def _common(a: list[str], b: list[str]) -> int:
    """The length of the longest common run of ``a`` and ``b``."""
    best = 0
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            cur = row[j]
            row[j] = prev + 1 if x == y else 0
            best = max(best, row[j])
            prev = cur
    return best


def char_f1(prediction: str, answers: list[str] | tuple[str, ...]) -> float:
    """The best F1 over the gold answers of their longest common substring (CMRC's official F1)."""
    predicted = segments(prediction)
    best = 0.0
    for answer in answers:
        gold = segments(answer)
        common = _common(gold, predicted)
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best
