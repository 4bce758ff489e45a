"""Read ``corpus/`` into Article records: encoding detection and title/date metadata.

An article is one ``.txt`` or ``.md`` file. Its ``text`` is the whole file as
decoded here, front matter included, and every offset the assistant reports
indexes into that string, so ``text[start:end]`` is always the quote.

The one rule for what "the text" is: the file's bytes decoded, with line endings
normalised to ``\n`` (``\r\n`` and a lone ``\r`` each become one ``\n``), NUL
characters and terminal (ANSI) escape sequences removed. So a file saved on
Windows (CRLF) or an old Mac (CR) quotes the same as its Unix twin, and nothing
after this module ever sees a ``\r``. The content hash stays that of the raw bytes.
Cleaning other than line endings is reported as a warning on the article.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from assistant.errors import CorpusError

logger = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md")
# A news article is far below 2 MB (~700k Chinese characters); a larger file
# is a dump or a book and is refused with this limit named.
MAX_ARTICLE_BYTES = 2 * 1024 * 1024
MAX_TITLE_CHARS = 40
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
# CSI sequences (colours, cursor moves) and the two-character escapes: what a terminal
# capture leaves in a text.
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
# A few NULs (up to 4, or this share of the bytes) are damage in a text file; more mean
# UTF-16 without a byte-order mark (or binary), which UTF-8 must not be tried on.
_MAX_NUL_SHARE = 0.01
# Deleted articles go here; hidden, so the indexer skips them.
TRASH = ".trash"
_META_KEYS = ("title", "date", "source", "url")
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or Office document)",
    b"\x7fELF": "an executable",
}
# Encodings a Chinese news file comes in besides UTF-8; charset-normalizer picks.
_CHINESE_ENCODINGS = ["gb18030", "big5", "utf_16", "utf_16_le", "utf_16_be"]


@dataclass(frozen=True)
class Article:
    """One article as read from disk. ``warnings`` says what reading it had to repair."""

    id: str
    path: Path
    text: str
    title: str
    encoding: str
    content_hash: str
    body_start: int = 0
    date: str | None = None
    source: str | None = None
    url: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


class Decoded(NamedTuple):
    """An article's text as decoded and cleaned, its encoding, and what was repaired."""

    text: str
    encoding: str
    warnings: tuple[str, ...]


def decode_bytes(data: bytes, name: str = "<bytes>") -> tuple[str, str]:
    """The text and encoding of an article's bytes; see :func:`decode_article`."""
    text, encoding, _ = decode_article(data, name)
    return text, encoding


def decode_article(data: bytes, name: str = "<bytes>") -> Decoded:
    """Decode an article's bytes, detecting UTF-8/16, GB18030/GBK and Big5, and clean the text.

    A file whose lines are partly UTF-8 and partly another encoding (two files pasted
    together) is decoded line by line; NULs and terminal escapes are removed. Both are
    reported in ``warnings``. Line endings become ``\n``.

    Raises:
        CorpusError: the bytes are empty, binary, or in no encoding we can read.
    """
    if not data.strip():
        raise CorpusError(f"{name}: the file is empty")
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise CorpusError(f"{name}: this is {kind}, not a text article")
    warnings: list[str] = []
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, encoding = data.decode("utf-16", errors="replace"), "utf-16"
    else:
        decoded = (
            _utf8_or_mixed(data, name, warnings)
            if data.count(0) <= max(4, len(data) * _MAX_NUL_SHARE)
            else None
        )
        if decoded is None:
            from charset_normalizer import from_bytes

            best = from_bytes(data, cp_isolation=_CHINESE_ENCODINGS).best()
            if best is None:
                raise CorpusError(
                    f"{name}: not readable as UTF-8, UTF-16, GB18030/GBK or Big5 text (binary file?)"
                )
            decoded = str(best), best.encoding
        text, encoding = decoded
    replaced = text.count("\ufffd")
    if replaced > max(2, len(text) // 20):
        raise CorpusError(f"{name}: this looks like binary data, not a text article")
    if replaced:
        warnings.append(f"{name}: {replaced} undecodable bytes shown as \ufffd")
    return Decoded(_checked(_clean(text, name, warnings), name), encoding, tuple(warnings))


def _utf8_or_mixed(data: bytes, name: str, warnings: list[str]) -> tuple[str, str] | None:
    """UTF-8 text; or, when some lines with non-ASCII characters are UTF-8 and others are
    not, each line in its own encoding; else None (no UTF-8 in it at all)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    foreign = [n for n, line in enumerate(lines) if not _is_utf8(line)]
    skip = set(foreign)
    if not any(not line.isascii() and n not in skip for n, line in enumerate(lines)):
        return None
    from charset_normalizer import from_bytes

    # One encoding for all the non-UTF-8 lines, chosen on them together: more text, a surer guess.
    best = from_bytes(b"\n".join(lines[n] for n in foreign), cp_isolation=_CHINESE_ENCODINGS).best()
    other = best.encoding if best is not None else "gb18030"
    for n in foreign:
        lines[n] = lines[n].decode(other, errors="replace").encode("utf-8")
    warnings.append(
        f"{name}: mixed encodings, {len(foreign)} of {len(lines)} lines read as {other}, the rest as UTF-8"
    )
    return b"\n".join(lines).decode("utf-8"), f"utf-8+{other}"


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _clean(text: str, name: str, warnings: list[str]) -> str:
    """Line endings to ``\n``; NULs and terminal escapes out, with a warning."""
    text = normalize_newlines(text)
    nuls = text.count("\x00")
    text, escapes = _ANSI_ESCAPE.subn("", text.replace("\x00", ""))
    removed = [f"{nuls} NUL characters"] if nuls else []
    removed += [f"{escapes} terminal escape sequences"] if escapes else []
    if removed:
        warnings.append(f"{name}: removed {' and '.join(removed)}")
    return text


def normalize_newlines(text: str) -> str:
    """``\r\n`` and a lone ``\r`` each become ``\n``: the line endings every article text has."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _checked(text: str, name: str) -> str:
    """Refuse text that decoded but is mostly control characters (binary data)."""
    controls = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t\f")
    if controls > max(2, len(text) // 100):
        raise CorpusError(f"{name}: this looks like binary data, not a text article")
    if not text.strip():
        raise CorpusError(f"{name}: the file holds no text")
    return text


def parse_article(
    text: str, article_id: str, path: Path, encoding: str, digest: str, warnings: tuple[str, ...] = ()
) -> Article:
    """Split off front matter and work out the title.

    The title is the front matter's ``title``, else the first line when it is
    short, has a word in it and does not end a sentence, else the file name. A
    ``---`` first line with no closing ``---`` is not front matter.
    """
    meta: dict[str, str] = {}
    body_start = 0
    match = _FRONT_MATTER.match(text)
    if match:
        for line in match.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                meta[key.strip().lower()] = value.strip().strip("\"'")
        body_start = match.end()
    title = meta.get("title") or _title_from_body(text[body_start:]) or path.stem
    return Article(
        id=article_id,
        path=path,
        text=text,
        title=title,
        encoding=encoding,
        content_hash=digest,
        body_start=body_start,
        date=meta.get("date"),
        source=meta.get("source"),
        url=meta.get("url"),
        meta=meta,
        warnings=warnings,
    )


def _title_from_body(body: str) -> str | None:
    for line in body.splitlines():
        line = line.strip(" \t\u3000#")
        if not any(ch.isalnum() for ch in line):  # blank, or a rule such as an unclosed ``---``
            continue
        if len(line) <= MAX_TITLE_CHARS and line[-1] not in "。！？；…!?;，,":
            return line
        return None
    return None


def read_article(path: Path, root: Path | None = None, max_bytes: int = MAX_ARTICLE_BYTES) -> Article:
    """Read one article file.

    Args:
        path: the file.
        root: the corpus folder; the article id is the path relative to it.
        max_bytes: larger files are refused with the limit named.

    Raises:
        CorpusError: the file cannot be read as a text article.
    """
    article_id = path.relative_to(root).as_posix() if root else path.name
    if path.is_symlink():  # also when a file became a link after the corpus was scanned
        raise CorpusError(f"{article_id}: a symbolic link; not followed")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(
                f"{article_id}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit "
                "for one article; split it into several files"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{article_id}: cannot read the file ({exc.strerror})") from exc
    text, encoding, warnings = decode_article(data, article_id)
    digest = hashlib.sha256(data).hexdigest()
    article = parse_article(text, article_id, path, encoding, digest, warnings)
    if not any(ch.isalnum() for ch in text[article.body_start :]):
        raise CorpusError(f"{article_id}: no body text")
    return article


def article_paths(root: Path, skipped: list[str] | None = None, exclude: Sequence[Path] = ()) -> list[Path]:
    """The article files under ``root``, sorted; hidden files and folders skipped silently.

    Symbolic links (to files or folders) are never followed: one could quote any file
    on the server. Folders in ``exclude`` (the index, when it sits inside the corpus) are
    not read either. Both are listed in ``skipped`` with the reason, by their path in the
    corpus.
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
            if path.is_symlink():
                notes.append(f"{path.relative_to(root).as_posix()}: a symbolic link; not followed")
            elif path.is_file():
                found.append(path)
    return sorted(found)


def _safe_name(name: str) -> str:
    """A file name without folders or characters that trouble file systems; suffix .txt/.md."""
    stem = Path(name.replace("\\", "/")).name
    stem = re.sub(r'[\x00-\x1f<>:"/|?*]', "_", stem).strip(" .") or "article"
    return stem if Path(stem).suffix.lower() in ARTICLE_SUFFIXES else f"{stem}.txt"


def _free_path(root: Path, name: str) -> Path:
    path = root / name
    n = 2
    while path.exists():
        path = root / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    return path


def add_file(root: Path, name: str, data: bytes, max_bytes: int = MAX_ARTICLE_BYTES) -> Path:
    """Save an uploaded article into the corpus, never overwriting one.

    The bytes are kept as they are (a GBK file stays GBK); they must read as an
    article first.

    Raises:
        CorpusError: the upload is not a readable text article, or too large.
    """
    name = _safe_name(name)
    if len(data) > max_bytes:
        raise CorpusError(f"{name}: {len(data) / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit")
    decode_bytes(data, name)
    with _writing(name):
        root.mkdir(parents=True, exist_ok=True)
        path = _free_path(root, name)
        _write_new(path, data)
    return path


def add_text(root: Path, title: str, body: str, max_bytes: int = MAX_ARTICLE_BYTES) -> Path:
    """Save a pasted article with its title as front matter.

    Raises:
        CorpusError: the title or the body is empty, or the text is over ``max_bytes``
            (checked before writing: the indexer would skip it, leaving a file nobody sees).
    """
    title = " ".join(title.split())
    if not title or not body.strip():
        raise CorpusError("a pasted article needs a title and a body")
    text = f"---\ntitle: {title}\n---\n{body.strip()}\n"
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise CorpusError(
            f"the pasted text is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit "
            "for one article; split it into several articles"
        )
    name = _safe_name(title[:40] + ".txt")
    with _writing(name):
        root.mkdir(parents=True, exist_ok=True)
        path = _free_path(root, name)
        _write_new(path, text.encode("utf-8"))
    return path


def remove_article(root: Path, article_id: str) -> Path:
    """Move an article into ``corpus/.trash/`` (skipped by the indexer, easy to restore).

    Raises:
        CorpusError: no such article in the corpus.
    """
    path = (root / article_id).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise CorpusError(f"{article_id}: no such article in {root}")
    with _writing(article_id):
        # Keep the article's folder inside the trash, so a restore puts it back where it was.
        folder = root / TRASH / path.relative_to(root.resolve()).parent
        folder.mkdir(parents=True, exist_ok=True)
        target = _free_path(folder, path.name)
        path.rename(target)
    return target


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file; a write that fails part-way (disk full) leaves no partial article."""
    try:
        path.write_bytes(data)
    except OSError:
        path.unlink(missing_ok=True)
        raise


@contextmanager
def _writing(name: str) -> Iterator[None]:
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
    source = (trash / trashed).resolve()
    if trash not in source.parents or not source.is_file() or source.suffix.lower() not in ARTICLE_SUFFIXES:
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
