"""Find articles that are the same story twice: byte-identical or near-identical text.

Near-duplicates (the same wire story under another headline, a changed byline)
are found by MinHash over 5-character shingles of the normalised body: the
share of equal signature slots estimates the Jaccard similarity of the two
shingle sets.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from assistant.lexical import normalize

SLOTS = 64
SHINGLE = 5
NEAR_DUPLICATE = 0.8
# Multiply-shift hashing: (a·x + b) mod 2^64, top 32 bits; a odd.
_RNG = np.random.default_rng(20261122)
_A = (_RNG.integers(0, 2**63, SLOTS, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_B = _RNG.integers(0, 2**63, SLOTS, dtype=np.uint64)


def signature(body: str) -> list[int]:
    """The MinHash signature of a body text (64 ints); empty text gives all-max slots."""
    text = "".join(re.findall(r"\w+", normalize(body)))
    shingles = {
        zlib.crc32(text[i : i + SHINGLE].encode("utf-8")) for i in range(max(len(text) - SHINGLE + 1, 1))
    }
    values = np.fromiter(shingles, dtype=np.uint64, count=len(shingles))
    with np.errstate(over="ignore"):
        hashed = (_A[:, None] * values[None, :] + _B[:, None]) >> np.uint64(32)
    return [int(v) for v in hashed.min(axis=1)]


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of the two bodies' shingle sets."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


def find_original(sig: list[int], kept: list[tuple[str, list[int]]]) -> tuple[str, float] | None:
    """The first kept article whose signature is at least ``NEAR_DUPLICATE`` similar."""
    if not kept:
        return None
    matrix = np.asarray([s for _, s in kept])
    scores = (matrix == np.asarray(sig)).mean(axis=1)
    best = int(np.argmax(scores))
    return (kept[best][0], float(scores[best])) if scores[best] >= NEAR_DUPLICATE else None
