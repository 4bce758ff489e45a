"""Read ``corpus/`` into Article records: encoding detection and title/date metadata.

An article is one ``.txt`` or ``.md`` file. Its ``text`` is the whole file as
decoded here, front matter included, and every offset the assistant reports
indexes into that string, so ``text[start:end]`` is always the quote.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import CorpusError

logger = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md")
# A news article is far below 2 MB (~700k Chinese characters); a larger file
# is a dump or a book and is refused with this limit named.
MAX_ARTICLE_BYTES = 2 * 1024 * 1024
MAX_TITLE_CHARS = 40
# Deleted articles go here; hidden, so the indexer skips them.
TRASH = ".trash"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
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
    """One article as read from disk."""

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


def decode_bytes(data: bytes, name: str = "<bytes>") -> tuple[str, str]:
    """Decode an article's bytes, detecting UTF-8/16, GB18030/GBK and Big5.

    Returns:
        The text and the name of the encoding it was read with.

    Raises:
        CorpusError: the bytes are empty, binary, or in no encoding we can read.
    """
    if not data.strip():
        raise CorpusError(f"{name}: the file is empty")
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise CorpusError(f"{name}: this is {kind}, not a text article")
    if data.startswith(b"\xef\xbb\xbf"):
        return _checked(data[3:].decode("utf-8", errors="strict"), "utf-8-sig", name)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _checked(data.decode("utf-16"), "utf-16", name)
    if b"\x00" not in data:
        try:
            return _checked(data.decode("utf-8"), "utf-8", name)
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_CHINESE_ENCODINGS).best()
    if best is None:
        raise CorpusError(f"{name}: not readable as UTF-8, UTF-16, GB18030/GBK or Big5 text (binary file?)")
    return _checked(str(best), best.encoding, name)


def _checked(text: str, encoding: str, name: str) -> tuple[str, str]:
    """Refuse text that decoded but is mostly control characters (binary data)."""
    controls = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\r\t\f")
    if controls > max(2, len(text) // 100):
        raise CorpusError(f"{name}: this looks like binary data, not a text article")
    if not text.strip():
        raise CorpusError(f"{name}: the file holds no text")
    return text, encoding


def parse_article(text: str, article_id: str, path: Path, encoding: str, digest: str) -> Article:
    """Split off front matter and work out the title.

    The title is the front matter's ``title``, else the first line when it is
    short and does not end a sentence, else the file name.
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
    )


def _title_from_body(body: str) -> str | None:
    for line in body.splitlines():
        line = line.strip(" \t\u3000#")
        if not line:
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
    text, encoding = decode_bytes(data, article_id)
    digest = hashlib.sha256(data).hexdigest()
    return parse_article(text, article_id, path, encoding, digest)


def article_paths(root: Path) -> list[Path]:
    """The article files under ``root``, sorted, hidden files and folders skipped."""
    if not root.is_dir():
        raise CorpusError(f"corpus folder {root} does not exist")
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in ARTICLE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


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
    root.mkdir(parents=True, exist_ok=True)
    path = _free_path(root, name)
    path.write_bytes(data)
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
    root.mkdir(parents=True, exist_ok=True)
    path = _free_path(root, _safe_name(title[:40] + ".txt"))
    path.write_text(text, encoding="utf-8")
    return path


def remove_article(root: Path, article_id: str) -> Path:
    """Move an article into ``corpus/.trash/`` (skipped by the indexer, easy to restore).

    Raises:
        CorpusError: no such article in the corpus.
    """
    path = (root / article_id).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        raise CorpusError(f"{article_id}: no such article in {root}")
    # Keep the article's folder inside the trash, so a restore puts it back where it was.
    folder = root / TRASH / path.relative_to(root.resolve()).parent
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_path(folder, path.name)
    path.rename(target)
    return target


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
