"""Write the first N contexts of a SQuAD-format file (with their questions) to a new file.

DRCD's test set has 1,000 contexts; embedding them all takes most of an hour on 2 cores, so the
quote models are fitted on its first 120 (360 questions)::

    python bench/squad_subset.py ../shared/datasets/drcd/DRCD_test.json 120 bench/out/drcd.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(source: str, contexts: int, target: str) -> None:
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    kept, left = [], contexts
    for doc in data["data"]:
        if left <= 0:
            break
        paragraphs = doc["paragraphs"][:left]
        left -= len(paragraphs)
        kept.append({**doc, "paragraphs": paragraphs})
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(json.dumps({"data": kept}, ensure_ascii=False), encoding="utf-8")
    questions = sum(len(p["qas"]) for doc in kept for p in doc["paragraphs"])
    print(f"{contexts - left} contexts, {questions} questions → {target}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
