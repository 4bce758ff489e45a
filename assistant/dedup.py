"""Find articles that are the same story twice: byte-identical or near-identical text.

Near-duplicates (the same wire story under another headline, a changed byline)
are found by MinHash over 5-character shingles of the normalised body: the
share of equal signature slots estimates the Jaccard similarity of the two
shingle sets.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from assistant.lexical import normalize

SLOTS = 64
SHINGLE = 5
NEAR_DUPLICATE = 0.8
MIN_SHINGLES = 20
_BLOCK = 4096
# Multiply-shift hashing: (a·x + b) mod 2^64, top 32 bits; a odd.
_RNG = np.random.default_rng(20261122)
_A = (_RNG.integers(0, 2**63, SLOTS, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_B = _RNG.integers(0, 2**63, SLOTS, dtype=np.uint64)


def signature(body: str) -> list[int]:
    """The MinHash signature of a body text (64 ints), or ``[]`` for a body too short to have one.

    A body of fewer than ``MIN_SHINGLES`` shingles ("图片", a caption, nothing) says nothing
    about the story it belongs to: every such body would look like every other.
    """
    text = "".join(re.findall(r"\w+", normalize(body)))
    if len(text) - SHINGLE + 1 < MIN_SHINGLES:
        return []
    shingles = {zlib.crc32(text[i : i + SHINGLE].encode("utf-8")) for i in range(len(text) - SHINGLE + 1)}
    values = np.fromiter(shingles, dtype=np.uint64, count=len(shingles))
    # A block of shingles at a time: the SLOTS × shingles products of a 2 MB article would
    # take ~350 MB per temporary array at once, and time grew faster than the text.
    low = np.full(SLOTS, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(values), _BLOCK):
        block = values[None, start : start + _BLOCK]
        with np.errstate(over="ignore"):
            hashed = (_A[:, None] * block + _B[:, None]) >> np.uint64(32)
        np.minimum(low, hashed.min(axis=1), out=low)
    return [int(v) for v in low]


class SignatureIndex:
    """The MinHash signatures of the articles kept so far, one matrix row each."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._matrix = np.zeros((64, SLOTS), dtype=np.uint64)

    def add(self, article_id: str, sig: Sequence[int]) -> None:
        """Keep an article's signature; one without a signature (``[]``) is nobody's twin."""
        if not sig:
            return
        if len(self.ids) == len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
        self._matrix[len(self.ids)] = sig
        self.ids.append(article_id)

    def find_original(self, sig: Sequence[int]) -> tuple[str, float] | None:
        """The first kept article whose signature is at least ``NEAR_DUPLICATE`` similar."""
        if not self.ids or not sig:
            return None
        scores = (self._matrix[: len(self.ids)] == np.asarray(sig, dtype=np.uint64)).mean(axis=1)
        best = int(np.argmax(scores))
        return (self.ids[best], float(scores[best])) if scores[best] >= NEAR_DUPLICATE else None
