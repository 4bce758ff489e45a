"""Bulk import: copy files and folders of articles into the corpus folder.

Files are copied, not indexed where they lie: the corpus folder is the one source the
index mirrors (an update drops articles whose files are gone, so an unplugged drive
would empty the index), and the Corpus tab can list, delete and restore them. A copy
never overwrites: a file already in the corpus with the same bytes is left as it is,
which makes a rerun of an interrupted import cheap; a different file of the same name
is saved beside it as ``name-2.pdf``.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from assistant.corpus.folder import place_whole, text_name, writing
from assistant.corpus.readers import ARTICLE_SUFFIXES
from assistant.errors import CorpusError


@dataclass
class Imported:
    """What an import copied, found already there, or left out and why."""

    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def import_files(
    sources: Iterable[Path], root: Path, show_progress: bool = False, index: Path | None = None
) -> Imported:
    """Copy article files, and the article files under folders, into the corpus folder ``root``.

    A folder's files keep their paths below a folder of the same name in the corpus.
    Hidden files, symbolic links and files of other formats are left out with the reason, and
    so are the corpus folder and the ``index`` folder when a source holds them: a corpus copied
    into itself would gain another copy of every article at each import.

    Raises:
        CorpusError: a source does not exist, or the corpus folder cannot be written.
    """
    result = Imported()
    plan: list[tuple[Path, Path]] = []
    corpus = root.resolve()
    fenced = {corpus: "the corpus folder itself; its articles are already there"}
    if index is not None:
        fenced[index.resolve()] = "the index folder; it holds no articles"
    for source in sources:
        if not source.exists() and not source.is_symlink():
            raise CorpusError(f"{source}: no such file or folder")
        if source.is_symlink():
            result.skipped.append(f"{source}: a symbolic link; not followed")
        elif source.resolve() == corpus or corpus in source.resolve().parents:
            result.present.append(f"{source}: already in the corpus folder")
        elif any(folder in fenced for folder in (source.resolve(), *source.resolve().parents)):
            result.skipped.append(f"{source}: in the index folder; it holds no articles")
        elif source.is_dir():
            plan += [
                (path, Path(source.resolve().name) / path.relative_to(source))
                for path in _walk(source, result, fenced)
            ]
        elif not source.is_file():
            result.skipped.append(f"{source}: not a regular file (a pipe or device)")
        elif source.suffix.lower() in ARTICLE_SUFFIXES:
            plan.append((source, Path(source.name)))
        else:
            result.skipped.append(f"{source}: not a supported format ({', '.join(ARTICLE_SUFFIXES)})")
    # Made even when nothing is copied: the update that follows an import reads it.
    with writing(root.name):
        root.mkdir(parents=True, exist_ok=True)
    for path, original in tqdm(plan, unit="file", desc="copying", disable=not show_progress or len(plan) < 2):
        # A name the index could not take (GBK bytes, a control character) is copied as text.
        relative = Path(*map(text_name, original.parts))
        target = root / relative
        unreadable = _unreadable(path)
        if unreadable:
            result.skipped.append(f"{path}: cannot be read ({unreadable}); not copied")
            continue
        copy = _copy_in(path, target)
        if copy is not None:
            result.present.append(copy.relative_to(root).as_posix())
            continue
        with writing(relative.as_posix()):
            target.parent.mkdir(parents=True, exist_ok=True)
            target = place_whole(target, lambda partial, source=path: shutil.copyfile(source, partial))
        result.copied.append(target.relative_to(root).as_posix())
    return result


def _copy_in(path: Path, target: Path) -> Path | None:
    """A file at ``target`` (or ``target-2``...: where an earlier import put it) with ``path``'s bytes."""
    candidate, n = target, 2
    while candidate.exists():
        if candidate.is_file() and filecmp.cmp(path, candidate, shallow=False):
            return candidate
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        n += 1
    return None


def _walk(folder: Path, result: Imported, fenced: dict[Path, str]) -> list[Path]:
    """The article files under ``folder``, sorted; links, other formats and the ``fenced``
    folders (with the reason they are not read) noted in ``result``."""
    found = []
    for here, dirs, files in os.walk(folder):  # followlinks=False
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and not _linked(Path(here) / d, result)
            and not _fenced(Path(here) / d, result, fenced)
        )
        for name in sorted(files):
            path = Path(here) / name
            if name.startswith(".") or _linked(path, result):
                continue
            if path.suffix.lower() not in ARTICLE_SUFFIXES:
                result.skipped.append(f"{path}: not a supported format")
            elif not path.is_file():
                result.skipped.append(f"{path}: not a regular file (a pipe or device)")
            else:
                found.append(path)
    return found


def _unreadable(path: Path) -> str | None:
    """Why a source file cannot be read (no permission, I/O error), else None.

    Checked before copying, so that one unreadable file is skipped rather than taken for a
    corpus folder that cannot be written, which stops the import.
    """
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _fenced(folder: Path, result: Imported, fenced: dict[Path, str]) -> bool:
    reason = fenced.get(folder.resolve())
    if reason:
        result.skipped.append(f"{folder}/: {reason}")
    return reason is not None


def _linked(path: Path, result: Imported) -> bool:
    if path.is_symlink():
        result.skipped.append(f"{path}: a symbolic link; not followed")
        return True
    return False
