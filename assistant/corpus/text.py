""".txt and .md articles: encoding detection, line endings, front matter and title.

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

import re
import unicodedata
from pathlib import Path
from typing import NamedTuple

from assistant.corpus.article import Article, one_line, title_from_body
from assistant.errors import CorpusError

TEXT_SUFFIXES = (".txt", ".md")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
# CSI sequences (colours, cursor moves) and the two-character escapes: what a terminal
# capture leaves in a text.
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
# A few NULs (up to 4, or this share of the bytes) are damage in a text file; more mean
# UTF-16 without a byte-order mark (or binary), which UTF-8 must not be tried on.
_MAX_NUL_SHARE = 0.01
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or Office document)",
    b"\x7fELF": "an executable",
    # Word 97-2003 (.doc) and WPS Office files are OLE compound files; RTF is ASCII markup whose
    # Chinese is escaped (\\'d5\\'e2), which would pass for a text article of control words.
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an old Office file (.doc, .wps, .xls; save it as .docx)",
    b"{\\rtf": "an RTF document (save it as .docx)",
}
# A saved web page named .txt (wget's output, a browser's "save as"): read as text, its tags,
# scripts and styles would be quoted. A Markdown file may hold tags, but never starts a page.
_HTML_PAGE = re.compile(r"[\s\ufeff]*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)
# Encodings a Chinese news file comes in besides UTF-8; charset-normalizer picks.
_CHINESE_ENCODINGS = ["gb18030", "big5", "utf_16", "utf_16_le", "utf_16_be"]


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
    kind = binary_kind(data)
    if kind:
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
            guessed = guess_encoding(data)
            if guessed is None:
                raise CorpusError(
                    f"{name}: not readable as UTF-8, UTF-16, GB18030/GBK or Big5 text (binary file?)"
                )
            decoded = data.decode(guessed, errors="replace"), guessed
        text, encoding = decoded
    replaced = text.count("\ufffd")
    if replaced > max(2, len(text) // 20):
        raise CorpusError(f"{name}: this looks like binary data, not a text article")
    if _HTML_PAGE.match(text):
        raise CorpusError(
            f"{name}: this is a web page (HTML), not a text article; rename it .html to import its article"
        )
    if replaced:
        warnings.append(f"{name}: {replaced} undecodable bytes shown as \ufffd")
    return Decoded(_checked(_clean(text, name, warnings), name), encoding, tuple(warnings))


def binary_kind(data: bytes) -> str | None:
    """What a file starting with these bytes is, when its magic number says it is no text
    ("a PDF document"); else None."""
    return next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)


def guess_encoding(data: bytes) -> str | None:
    """The encoding of Chinese text that is not UTF-8: charset-normalizer's pick among
    GB18030, Big5 and UTF-16, else the first of GB18030 and Big5 that decodes every byte.

    charset-normalizer finds no match for some plain GBK news text (a People's Daily
    paragraph with full-width digits and ∶ in it), which GB18030 reads without an error.
    """
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_CHINESE_ENCODINGS).best()
    if best is not None:
        return best.encoding
    for encoding in ("gb18030", "big5"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _utf8_or_mixed(data: bytes, name: str, warnings: list[str]) -> tuple[str, str] | None:
    """UTF-8 text; or, when some lines with non-ASCII characters are UTF-8 and others are
    not, each line in its own encoding; else None (no UTF-8 in it at all).

    A line of UTF-8 with a few bad bytes (a flipped byte, a character cut by a bad copy) stays
    UTF-8, each bad byte shown as U+FFFD: read as GBK it would be garbled whole.
    """
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    foreign = [n for n, line in enumerate(lines) if not _mostly_utf8(line)]
    skip = set(foreign)
    if not any(not line.isascii() and n not in skip for n, line in enumerate(lines)):
        return None
    if not foreign:
        return data.decode("utf-8", errors="replace"), "utf-8"
    # One encoding for all the non-UTF-8 lines, chosen on them together: more text, a surer guess.
    other = guess_encoding(b"\n".join(lines[n] for n in foreign)) or "gb18030"
    for n in foreign:
        lines[n] = lines[n].decode(other, errors="replace").encode("utf-8")
    warnings.append(
        f"{name}: mixed encodings, {len(foreign)} of {len(lines)} lines read as {other}, the rest as UTF-8"
    )
    return b"\n".join(lines).decode("utf-8", errors="replace"), f"utf-8+{other}"


def _mostly_utf8(line: bytes) -> bool:
    """Whether a line is UTF-8 but for a few bad bytes: at least 4 of its every 5 non-ASCII
    characters decode (a GBK line read as UTF-8 is nearly all bad bytes)."""
    text = line.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    return sum(1 for ch in text if ch > "\x7f") - bad >= 4 * bad


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
                meta[key.strip().lower()] = one_line(value.strip().strip("\"'")) or ""
        body_start = match.end()
    title = meta.get("title") or title_from_body(text[body_start:]) or path.stem
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
