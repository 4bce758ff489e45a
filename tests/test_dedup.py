"""MinHash signatures: bounded memory on a huge article, none for a body too short to have one."""

from __future__ import annotations

import random
import tracemalloc

from assistant.dedup import NEAR_DUPLICATE, SignatureIndex, signature

HAN = "火神山医院由中建三局负责建设十天建成一千余名建设者日夜奋战党员突击队冲锋在前天津市组建医疗队增援武汉"


def test_a_huge_body_is_signed_in_bounded_memory() -> None:
    rng = random.Random(7)
    body = "".join(rng.choice(HAN) for _ in range(200_000))  # ~600 KB, ~200k distinct shingles
    tracemalloc.start()
    try:
        sig = signature(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(sig) == 64
    # All shingles' products at once took 64 × 200k × 8 bytes (~100 MB) per temporary array.
    assert peak < 40 * 2**20


def test_blockwise_signature_equals_the_whole_set_minimum() -> None:
    rng = random.Random(8)
    body = "".join(rng.choice(HAN) for _ in range(30_000))
    edited = body[:15_000] + "（记者 张三）" + body[15_000:]
    index = SignatureIndex()
    index.add("a", signature(body))
    found = index.find_original(signature(edited))
    assert found is not None and found[0] == "a" and found[1] >= NEAR_DUPLICATE


def test_short_and_empty_bodies_have_no_signature_and_match_nothing() -> None:
    assert signature("") == [] and signature("图片") == [] and signature("，。") == []
    index = SignatureIndex()
    index.add("empty", signature(""))
    assert index.ids == [] and index.find_original(signature("")) is None
