"""Word (.docx) articles, with python-docx.

The text is the document's paragraphs and tables in the order they stand in the body,
one paragraph a line; a table becomes one line per row, its cells joined by " | ".
The title is the document's title property, else its first Title or Heading paragraph.
python-docx is the one maintained pure-Python reader of the format; it walks body
paragraphs and tables in document order (``iter_inner_content``).
"""

from __future__ import annotations

import io
import zipfile

from assistant.corpus.extracted import Extracted, Unreadable

CELL_SEPARATOR = " | "
# A .docx is a zip: python-docx unpacks every part into memory, so a small file that unpacks
# to gigabytes (a zip bomb: 450 KB made 400 MB of XML, 830 MB of memory) would exhaust the
# server's. Word files of news articles with photos unpack to a few tens of MB.
MAX_UNPACKED_BYTES = 256 * 2**20


def extract_docx(data: bytes, name: str) -> Extracted:
    """The body of a .docx file as one article.

    Raises:
        Unreadable: the file is not a Word document (damaged, or another format renamed).
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            # zipfile never unpacks a part past its declared size, so the sum bounds the memory.
            unpacked = sum(info.file_size for info in package.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise Unreadable(
                f"unpacks to {unpacked / 2**20:.0f} MB, over the {MAX_UNPACKED_BYTES / 2**20:.0f} MB "
                "a Word article may hold (a damaged or malicious file?)"
            )
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Unreadable(
            "damaged or not a Word .docx document (a .doc must be saved as .docx first)"
        ) from exc
    lines: list[str] = []
    heading = None
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            lines += _table_rows(block)
            continue
        # A soft line break (Shift+Enter) ends a line of the text too.
        here = [" ".join(part.split()) for part in block.text.split("\n")]
        here = [line for line in here if line]
        style = (block.style.name if block.style is not None else "") or ""
        if here and heading is None and (style == "Title" or style.startswith("Heading")):
            heading = " ".join(here)
        lines += here
    # The creation date and author are not read: Word's templates carry their own (python-docx's
    # says 2013 and "python-docx"), which would pass for the article's.
    title = " ".join((document.core_properties.title or "").split()) or heading
    return Extracted(text="\n".join(lines), title=title)


def _table_rows(table: object) -> list[str]:
    """One line a row; a cell merged across columns is written once."""
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if not cells or text != cells[-1]:
                cells.append(text)
        if any(cells):
            rows.append(CELL_SEPARATOR.join(cells))
    return rows
