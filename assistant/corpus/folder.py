"""The corpus folder on disk: which files are articles, and adding, removing and restoring them."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from assistant.config import MAX_ARTICLE_BYTES
from assistant.corpus.readers import ARTICLE_SUFFIXES, article_from_bytes, file_limit
from assistant.corpus.records import RECORD_SUFFIXES, read_records
from assistant.errors import CorpusError

# What link() fails with on a file system that has no hard links.
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK)

# Deleted articles go here; hidden, so the indexer skips them.
TRASH = ".trash"
# The longest name a saved upload gets, in bytes: under the 255 of file systems, with room for
# the "-2" of a name already taken.
MAX_NAME_BYTES = 240


def article_paths(root: Path, skipped: list[str] | None = None, exclude: Sequence[Path] = ()) -> list[Path]:
    """The article files under ``root``, sorted; hidden files and folders skipped silently.

    Symbolic links (to files or folders) are never followed: one could quote any file
    on the server. Folders in ``exclude`` (the index, when it sits inside the corpus) are
    not read either, nor files and folders whose name is not UTF-8 text (a GBK name from a
    Windows zip) or holds a control character: an article id must be text that can be
    written to the index and printed. All are listed in ``skipped`` with the reason, by their
    path in the corpus.
    """
    if not root.is_dir():
        raise CorpusError(f"corpus folder {root} does not exist")
    notes = skipped if skipped is not None else []
    excluded = {p.resolve() for p in exclude}
    found = []
    for folder, dirs, files in os.walk(root):  # followlinks=False: links are only listed
        here = Path(folder)
        for name in sorted(dirs):
            path = here / name
            if name.startswith("."):
                dirs.remove(name)
            elif _unusable(name):
                dirs.remove(name)
                notes.append(f"{_shown(path.relative_to(root))}/: {_UNUSABLE}")
            elif path.is_symlink():
                dirs.remove(name)
                notes.append(
                    f"{path.relative_to(root).as_posix()}/: a symbolic link to a folder; not followed"
                )
            elif path.resolve() in excluded:
                dirs.remove(name)
                notes.append(f"{path.relative_to(root).as_posix()}/: the index folder; not indexed")
        for name in files:
            path = here / name
            if name.startswith(".") or path.suffix.lower() not in ARTICLE_SUFFIXES:
                continue
            if _unusable(name):
                notes.append(f"{_shown(path.relative_to(root))}: {_UNUSABLE}")
            elif path.is_symlink():
                notes.append(f"{path.relative_to(root).as_posix()}: a symbolic link; not followed")
            elif path.is_file():
                found.append(path)
    return sorted(found)


_UNUSABLE = "the name is not UTF-8 text or holds a control character; rename it to index it"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _unusable(name: str) -> bool:
    """Whether a file name cannot be an article id: undecodable bytes (held as surrogates) or controls."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return _CONTROL.search(name) is not None


def text_name(name: str) -> str:
    """A file name as text an article id can be: bytes that are not UTF-8 read as GB18030 (the
    Chinese names of a Windows zip unpacked here), else each shown as ``_``; controls as ``_``."""
    if _unusable(name):
        raw = os.fsencode(name)
        try:
            name = raw.decode("gb18030")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", errors="replace").replace("\ufffd", "_")
    return _CONTROL.sub("_", name)


def _shown(path: Path) -> str:
    """A path as printable text: undecodable bytes as \\xNN, control characters as \\xNN too."""
    raw = os.fsencode(path.as_posix()).decode("utf-8", errors="backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", raw)


def _safe_name(name: str) -> str:
    """A file name without folders or characters that trouble file systems, of a format we read (else .txt).

    The name is cut to :data:`MAX_NAME_BYTES` in UTF-8: file systems allow 255 bytes, which
    a Chinese headline of 86 characters already fills.
    """
    stem = Path(name.replace("\\", "/")).name
    stem = re.sub(r'[\x00-\x1f<>:"/|?*]', "_", stem).strip(" .") or "article"
    suffix = Path(stem).suffix
    if suffix.lower() in ARTICLE_SUFFIXES:
        stem = stem[: -len(suffix)]
    else:
        suffix = ".txt"
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    stem = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore").strip(" .") or "article"
    return stem + suffix


def free_path(root: Path, name: str) -> Path:
    path = root / name
    n = 2
    while path.exists():
        path = root / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    return path


def add_file(
    root: Path, name: str, data: bytes, max_bytes: int = MAX_ARTICLE_BYTES, fields: str = ""
) -> Path:
    """Save an uploaded article (or export of articles) into the corpus, never overwriting one.

    The bytes are kept as they are (a GBK file stays GBK); they must read as an
    article first, or, for an export, hold at least one readable record.

    Raises:
        CorpusError: the upload is not a readable article, or too large.
    """
    name = _safe_name(name)
    limit = file_limit(Path(name).suffix, max_bytes)
    if len(data) > limit:
        raise CorpusError(f"{name}: {len(data) / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB limit")
    if Path(name).suffix.lower() in RECORD_SUFFIXES:
        _check_export(name, data, max_bytes, fields)
    else:
        article_from_bytes(data, name, Path(name), max_bytes)
    with writing(name):
        root.mkdir(parents=True, exist_ok=True)
        return _write_new(root, name, data)


def _check_export(name: str, data: bytes, max_bytes: int, fields: str) -> None:
    """Refuse an export none of whose records can be read."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        skipped: list[str] = []
        if next(read_records(path, Path(folder), fields, skipped, max_bytes), None) is None:
            raise CorpusError(
                f"{name}: no record in it can be read" + (f" ({skipped[0]})" if skipped else "")
            )


def add_text(root: Path, title: str, body: str, max_bytes: int = MAX_ARTICLE_BYTES) -> Path:
    """Save a pasted article with its title as front matter.

    Raises:
        CorpusError: the title or the body is empty, the text is over ``max_bytes`` or does
            not read as an article (only NULs, controls or punctuation): checked before
            writing, since the indexer would skip it, leaving a file nobody sees.
    """
    title = " ".join(title.split())
    if not title or not body.strip():
        raise CorpusError("a pasted article needs a title and a body")
    data = f"---\ntitle: {title}\n---\n{body.strip()}\n".encode()
    size = len(data)
    if size > max_bytes:
        raise CorpusError(
            f"the pasted text is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit "
            "for one article; split it into several articles"
        )
    name = _safe_name(title[:40] + ".txt")
    article_from_bytes(data, name, Path(name), max_bytes)
    with writing(name):
        root.mkdir(parents=True, exist_ok=True)
        return _write_new(root, name, data)


def remove_article(root: Path, article_id: str) -> Path:
    """Move an article into ``corpus/.trash/`` (skipped by the indexer, easy to restore).

    Raises:
        CorpusError: no such article in the corpus.
    """
    path = _file_in(root, article_id)
    if path is None:
        export = export_of(root, article_id)
        if export:
            raise CorpusError(
                f"{article_id}: a record of the export {export}; delete it from that file, "
                f"or delete the whole file {export}"
            )
        raise CorpusError(f"{article_id}: no such article in {root}")
    with writing(article_id):
        # Keep the article's folder inside the trash, so a restore puts it back where it was.
        folder = root / TRASH / path.relative_to(root.resolve()).parent
        folder.mkdir(parents=True, exist_ok=True)
        target = free_path(folder, path.name)
        try:
            path.rename(target)
        except FileNotFoundError:  # deleted meanwhile by another request
            raise CorpusError(f"{article_id}: no such article in {root}") from None
    return target


def export_of(root: Path, article_id: str) -> str | None:
    """The export file (JSONL, CSV) in ``root`` that a record's article id ``file#key`` names, if any."""
    for cut in (i for i, ch in enumerate(article_id) if ch == "#"):
        name = article_id[:cut]
        if Path(name).suffix.lower() in RECORD_SUFFIXES and _file_in(root, name):
            return name
    return None


def _file_in(folder: Path, name: str) -> Path | None:
    """``folder / name`` resolved, when that is a file inside ``folder``; else None, also for a
    name no path can have (a NUL in it, too long), as a request may send."""
    try:
        path = (folder / name).resolve()
        return path if folder.resolve() in path.parents and path.is_file() else None
    except (OSError, ValueError):
        return None


def _write_new(root: Path, name: str, data: bytes) -> Path:
    """Write a new file ``name`` in ``root``, else ``name-2``... when taken; the path written."""
    return place_whole(root / name, lambda partial: partial.write_bytes(data))


def place_whole(target: Path, fill: Callable[[Path], object]) -> Path:
    """A new file at ``target`` (or ``target-2``...: never over a file), whole or not at all.

    ``fill`` writes the bytes to a hidden file beside it, which the indexer skips; it takes its
    name only once all are written. A write cut short (disk full, Ctrl-C, a killed server) would
    otherwise leave a truncated article under the name, indexed. The name is claimed by a hard
    link, which fails when it is taken, so two files of one name at the same moment never
    overwrite each other.
    """
    # A name of its own (uploads of one name may be saved at the same moment, in threads).
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".partial")
    os.close(handle)
    partial = Path(name)
    try:
        fill(partial)
        candidate, n = target, 2
        while True:
            try:
                os.link(partial, candidate)
                return candidate
            except FileExistsError:
                candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
                n += 1
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise
                # A drive without hard links (exFAT, some network shares): a free name, renamed onto.
                candidate = free_path(candidate.parent, candidate.name)
                partial.rename(candidate)
                return candidate
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def writing(name: str) -> Iterator[None]:
    """Turn a failed write into the corpus (disk full, read-only) into a CorpusError."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            why = "the disk is full"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            why = "the corpus folder is read-only"
        else:
            why = exc.strerror or str(exc)
        raise CorpusError(f"{name}: cannot be saved, {why}") from exc


def trashed_articles(root: Path) -> list[str]:
    """The articles in ``corpus/.trash/``, as paths relative to it, sorted."""
    trash = root / TRASH
    if not trash.is_dir():
        return []
    return sorted(
        p.relative_to(trash).as_posix()
        for p in trash.rglob("*")
        if p.suffix.lower() in ARTICLE_SUFFIXES and p.is_file() and not p.is_symlink()
    )


def restore_article(root: Path, trashed: str) -> Path:
    """Move an article from ``corpus/.trash/`` back to its folder in the corpus.

    Never overwrites: when the name is taken meanwhile, the article comes back
    as ``name-2.txt`` (and so on).

    Args:
        root: the corpus folder.
        trashed: the article's path relative to the trash, as :func:`trashed_articles` gives it.

    Raises:
        CorpusError: no such article in the trash.
    """
    trash = (root / TRASH).resolve()
    source = _file_in(trash, trashed)
    if source is None or source.suffix.lower() not in ARTICLE_SUFFIXES:
        raise CorpusError(f"{trashed}: no such article in the trash")
    folder = root / source.relative_to(trash).parent
    folder.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        name = source.name if n == 1 else f"{source.stem}-{n}{source.suffix}"
        try:
            # A hard link fails when the name exists, where a rename would replace it.
            os.link(source, folder / name)
        except FileExistsError:
            n += 1
            continue
        source.unlink()
        return folder / name
