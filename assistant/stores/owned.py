"""The collections an index folder has created in a shared store (Milvus), so that none is left
behind in the engine.

A full rebuild, a model change or a build interrupted before its generation went live each
leave a collection no generation uses any more. Every collection an index creates (and the
one its live generation used, when a rebuild replaces it) is recorded in the index folder,
in ``store-collections.json``, before anything is written to it; once a generation is live,
:func:`release` drops every recorded collection but its own. Only collections this index
folder recorded are ever dropped, never another index's in the same engine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FILE = "store-collections.json"


def _read(root: Path) -> list[dict[str, str]]:
    try:
        entries = json.loads((root / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or damaged: nothing it named can be told apart
        return []
    return [e for e in entries if isinstance(e, dict) and {"spec", "collection"} <= e.keys()]


def _write(root: Path, entries: list[dict[str, str]]) -> None:
    """Write the list durably (a collection must be recorded before it exists)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{FILE}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(entries, ensure_ascii=False, indent=1))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / FILE)


def claim(root: Path, *described: dict[str, Any] | None) -> None:
    """Record as this index's the collections of these stores (manifest ``store`` entries;
    None and stores that are not shared are skipped).

    Raises:
        OSError: the index folder cannot be written.
    """
    entries = _read(root)
    fresh = [
        {"spec": str(d["spec"]), "collection": str(d["collection"])}
        for d in described
        if d is not None and d.get("kind") == "milvus" and d.get("collection")
    ]
    missing = [e for e in fresh if e not in entries]
    if missing:
        _write(root, entries + missing)


def release(root: Path, live: Any) -> list[str]:
    """Drop every collection recorded in ``root`` but the live store's own: called once the
    generation saved with ``live`` is live.

    Collections in another engine than the live store's (the store was switched) cannot be
    reached through it: they are forgotten and named in the warnings returned.
    """
    entries = _read(root)
    if not entries:
        return []
    described = live.describe()
    kept, warnings = [], []
    for entry in entries:
        same_engine = described.get("kind") == "milvus" and entry["spec"] == described["spec"]
        if same_engine and entry["collection"] == described["collection"]:
            kept.append(entry)
        elif same_engine:
            live.drop_collection(entry["collection"])
        else:
            warnings.append(
                f"the Milvus collection {entry['collection']} in {entry['spec']}, which this index used "
                "before its store changed, is no longer used: drop it there if nothing else needs it"
            )
    if kept != entries:
        _write(root, kept)
    return warnings
