"""JSONL and CSV exports: one article per record, read as a stream.

A database export may hold 100k records, so a file is never loaded whole: JSONL is read
line by line, CSV row by row, and each record becomes an Article as it is reached.

Field names (case-insensitive; the first one present is used):

==========  ==========================================
title       title, 标题, headline
date        date, 日期, 发布时间, pubdate, published
source      source, 来源, 媒体, publisher
url         url, 链接, link
body        body, text, content, 正文, 内容
id          id, 编号, uuid
==========  ==========================================

``Settings.record_fields`` (``--fields`` or ``ASSISTANT_RECORD_FIELDS``) names other
columns, e.g. ``body=article_text,title=headline``. A record's article id is
``<file>#<id>``, with the record's ``id`` field, else its line (JSONL) or row (CSV)
number: give records an id and they keep it when others are added above them. Its
content hash covers only the mapped fields, so a change to one record re-indexes that
record alone. A malformed line or a record with no body is skipped, named by its line
or row, and the rest of the file is read. A CSV may be separated by commas, tabs, semicolons
or ``|``: the header line says which.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, AnyStr

from assistant.corpus.article import Article, from_extracted
from assistant.corpus.extracted import Extracted
from assistant.corpus.text import binary_kind, guess_encoding, normalize_newlines
from assistant.errors import CorpusError

RECORD_SUFFIXES = (".jsonl", ".csv")
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "标题", "headline"),
    "date": ("date", "日期", "发布时间", "pubdate", "published"),
    "source": ("source", "来源", "媒体", "publisher"),
    "url": ("url", "链接", "link"),
    "body": ("body", "text", "content", "正文", "内容"),
    "id": ("id", "编号", "uuid"),
}
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
# A JSONL line may be this many times the limit of one article's text: JSON escapes
# (\u4e2d is 6 bytes for 3) and the other fields.
LINE_FACTOR = 8
# A CSV's delimiter is the one of these its header line holds most of (the first on a tie).
_DELIMITERS = (",", "\t", ";", "|")
# Bytes read to detect a CSV's encoding; a multi-byte character cut at the end is allowed for.
_SAMPLE_BYTES = 1 << 16
# Malformed lines of one JSONL file listed each with its reason; the rest are counted.
MAX_LINE_NOTES = 10


def parse_fields(spec: str) -> dict[str, tuple[str, ...]]:
    """The field names to look for: the defaults, with ``spec``'s ``field=column`` pairs first.

    Raises:
        CorpusError: ``spec`` names a field other than title, date, source, url, body, id.
    """
    fields = dict(DEFAULT_FIELDS)
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, column = (s.strip() for s in pair.partition("="))
        if not sep or key.lower() not in fields or not column:
            raise CorpusError(
                f"record field mapping {pair!r}: write field=column, field one of {', '.join(fields)}"
            )
        fields[key.lower()] = (column, *fields[key.lower()])
    return fields


def read_records(
    path: Path, root: Path, fields: str, skipped: list[str], max_bytes: int
) -> Iterator[Article]:
    """The articles of one export file, one at a time.

    Args:
        path: a ``.jsonl`` or ``.csv`` file.
        root: the corpus folder; ids start with the path relative to it.
        fields: the ``field=column`` mapping (see :func:`parse_fields`).
        skipped: each skipped record is added here with its reason.
        max_bytes: a record whose body is larger is skipped.

    Raises:
        CorpusError: the file as a whole cannot be read (unreadable, no body column).
    """
    file_id = path.relative_to(root).as_posix()
    names = parse_fields(fields)
    kind = "JSONL" if path.suffix.lower() == ".jsonl" else "CSV"
    try:
        with path.open("rb") as handle:
            other = binary_kind(handle.read(16))
    except OSError as exc:
        raise CorpusError(f"{file_id}: cannot read the file ({exc.strerror})") from exc
    if other:
        raise CorpusError(f"{file_id}: this is {other}, not a {kind} export")
    bad_lines = _BadLines(file_id)
    rows = (
        _jsonl_rows(path, file_id, bad_lines, max_bytes)
        if kind == "JSONL"
        else _csv_rows(path, file_id, max_bytes)
    )
    seen: set[str] = set()
    expected = f"expected one of {', '.join(names['body'])} (name yours with --fields body=COLUMN)"
    # A CSV's rows share its header, so one without a body column means none has one. JSONL
    # records may differ: one without a body is skipped, unless no record has one (a misnamed field).
    without_body: list[tuple[int, str]] = []  # (record number, article id)
    has_body = False
    records = 0
    for number, row in rows:
        records += 1
        columns = {str(k).strip().lower(): v for k, v in row.items()}
        values = {f: _value(columns, candidates) for f, candidates in names.items()}
        key = " ".join((values.pop("id") or str(number)).split())
        article_id = f"{file_id}#{key}"
        if not any(n.lower() in columns for n in names["body"]):
            if path.suffix.lower() != ".jsonl":
                raise CorpusError(f"{file_id}: no body field in record {number}; {expected}")
            without_body.append((number, article_id))
            continue
        has_body = True
        if not values["body"].strip():
            skipped.append(f"{article_id}: record {number} has no body text")
            continue
        if key in seen:
            skipped.append(f"{article_id}: record {number} repeats the id {key!r} of an earlier record")
            continue
        seen.add(key)
        digest = hashlib.sha256(json.dumps(values, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
        extracted = Extracted(
            text=normalize_newlines(values["body"]).strip(),
            title=" ".join(values["title"].split()) or None,
            date=iso_date(values["date"]),
            source=values["source"].strip() or None,
            url=values["url"].strip() or None,
        )
        try:
            yield from_extracted(extracted, article_id, path, digest, path.suffix[1:].lower(), max_bytes, key)
        except CorpusError as exc:
            skipped.append(str(exc))
    if not records:
        # A binary file, a pretty-printed JSON array or a text renamed .jsonl: one message for
        # the file, not one for each of its (maybe thousands of) lines.
        if bad_lines.count:
            raise CorpusError(
                f"{file_id}: not a JSONL export, no line of it is a JSON object "
                f"({bad_lines.notes[0].removeprefix(f'{file_id}: ').removesuffix('; skipped')}; "
                f"{bad_lines.count} line{'s' if bad_lines.count > 1 else ''} read)"
            )
        raise CorpusError(f"{file_id}: the export holds no records")
    skipped.extend(bad_lines.listed())
    if without_body and not has_body:
        raise CorpusError(f"{file_id}: no body field in record {without_body[0][0]}; {expected}")
    skipped.extend(f"{i}: record {n} has no body field; {expected}" for n, i in without_body)


class _BadLines:
    """The JSONL lines skipped, the first :data:`MAX_LINE_NOTES` with their reason, the rest counted."""

    def __init__(self, file_id: str) -> None:
        self.file_id = file_id
        self.notes: list[str] = []
        self.count = 0

    def append(self, note: str) -> None:
        self.count += 1
        if len(self.notes) < MAX_LINE_NOTES:
            self.notes.append(note)

    def listed(self) -> list[str]:
        more = self.count - len(self.notes)
        return self.notes + ([f"{self.file_id}: {more} more lines skipped"] if more else [])


def iso_date(value: str) -> str | None:
    """``YYYY-MM-DD`` from the first date in ``value`` ("2018/10/24 09:00", "2020年6月23日"), if it is one."""
    found = _DATE.search(value)
    if not found:
        return None
    try:
        return datetime.date(int(found[1]), int(found[2]), int(found[3])).isoformat()
    except ValueError:  # 2020-13-45
        return None


def _value(columns: dict[str, object], candidates: tuple[str, ...]) -> str:
    for name in candidates:
        value = columns.get(name.lower())
        if isinstance(value, list) and all(isinstance(part, str) for part in value):
            # A scraper's export of an article's paragraphs: one a line, not the array's JSON.
            value = "\n".join(part.strip() for part in value if part.strip())
        if value is not None and str(value).strip():
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return ""


def _jsonl_rows(
    path: Path, file_id: str, skipped: _BadLines, max_bytes: int
) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, object) for each JSON object line; other lines skipped with the reason.

    A line is read up to :data:`LINE_FACTOR` × ``max_bytes``: a JSON array of a whole export
    saved as one line (a ``.json`` renamed ``.jsonl``) is skipped, not loaded into memory whole.
    """
    limit = LINE_FACTOR * max_bytes
    for number, text in _jsonl_lines(path, limit):
        if text is None:
            skipped.append(
                f"{file_id}: line {number} is over {limit / 2**20:g} MB; a .jsonl file holds one "
                "article a line (a JSON array must be written one object a line first)"
            )
            continue
        if not text.strip(" \t\r\n\ufeff"):
            continue
        try:
            row = json.loads(text.lstrip("\ufeff"))
        except (json.JSONDecodeError, RecursionError) as exc:  # [[[[… past Python's stack
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            skipped.append(f"{file_id}: line {number} is not valid JSON ({why}); skipped")
            continue
        if isinstance(row, list):
            skipped.append(
                f"{file_id}: line {number} is a JSON array, not an object; a .jsonl file holds one "
                "article (JSON object) a line; skipped"
            )
        elif not isinstance(row, dict):
            skipped.append(f"{file_id}: line {number} is not a JSON object; skipped")
        else:
            yield number, row


def _jsonl_lines(path: Path, limit: int) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of each line, None for a line over ``limit`` bytes (or characters).

    UTF-16 (as Windows tools save), else UTF-8 with or without BOM, a line that is not UTF-8
    read as GB18030. A JSON line starts with an ASCII character, so a NUL among the first two
    bytes is UTF-16 even without a byte-order mark.
    """
    with path.open("rb") as handle:
        head = handle.read(2)
    wide = {codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}.get(head)
    if wide is None and len(head) == 2 and 0 in head:
        wide = "utf-16-le" if head[1] == 0 else "utf-16-be"
    if wide:
        with path.open(encoding=wide, errors="replace", newline="") as lines:
            yield from enumerate(_bounded(lines, limit, "\n"), 1)
        return
    with path.open("rb") as lines:
        for number, raw in enumerate(_bounded(lines, limit, b"\n"), 1):
            if raw is None:
                yield number, None
                continue
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:  # JSON should be UTF-8; GBK exports exist
                yield number, raw.decode("gb18030", errors="replace")


def _bounded(lines: IO[AnyStr], limit: int, newline: AnyStr) -> Iterator[AnyStr | None]:
    """Each line of ``lines``, or None for one over ``limit``, whose rest is read and dropped."""
    while line := lines.readline(limit + 1):
        if len(line) <= limit or line.endswith(newline):
            yield line
            continue
        while line and not line.endswith(newline):
            line = lines.readline(_SAMPLE_BYTES)
        yield None


def _csv_rows(path: Path, file_id: str, max_bytes: int) -> Iterator[tuple[int, dict[str, object]]]:
    """(row number, row) for each CSV row after the header, in the file's detected encoding and delimiter.

    A field may hold one article (``max_bytes``), no more: an unclosed quote would otherwise read
    the rest of a file of any size into one field.
    """
    encoding = _csv_encoding(path, file_id)
    csv.field_size_limit(max_bytes)
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        header = handle.readline()
        handle.seek(0)
        # Excel writes ";" where "," is the decimal mark; other tools write tabs into a .csv.
        delimiter = max(_DELIMITERS, key=header.count)
        reader = csv.DictReader(handle, delimiter=delimiter if delimiter in header else ",")
        number = 0
        while True:
            number += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field limit" in str(exc):
                    raise CorpusError(
                        f"{file_id}: row {number} has a field over the {max_bytes / 2**20:.0f} MB limit for one "
                        "article (an unclosed quote?); the rest is not read"
                    ) from exc
                raise CorpusError(
                    f"{file_id}: row {number} is not valid CSV ({exc}); the rest is not read"
                ) from exc
            yield number, {k: v for k, v in row.items() if k is not None}


def _csv_encoding(path: Path, file_id: str) -> str:
    """UTF-8 (with or without BOM), UTF-16, GB18030/GBK or Big5, judged on the file's start."""
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    cut = sample if len(sample) < _SAMPLE_BYTES else sample[: sample.rfind(b"\n") + 1] or sample
    try:
        cut.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = guess_encoding(cut)
    if encoding is None:
        raise CorpusError(f"{file_id}: not readable as UTF-8, GB18030/GBK or Big5 text")
    return encoding
