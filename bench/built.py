"""An index built over a folder with the product's own CLI, as a user would, then opened."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def build_and_open(corpus: Path, index: Path) -> tuple[Any, float]:
    """Run ``assistant index build`` over ``corpus`` into ``index`` (real bundled model), then open it.

    Returns:
        The :class:`assistant.service.Assistant` over that index, and the build's seconds.
    """
    started = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "assistant",
        "index",
        "build",
        "--corpus",
        str(corpus),
        "--index",
        str(index),
    ]
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started

    from assistant.config import Settings
    from assistant.service import Assistant

    return Assistant(Settings.from_env(corpus_dir=corpus, index_dir=index)), seconds
