"""Word (.docx) articles, with python-docx.

The text is the document's paragraphs and tables in the order they stand in the body,
one paragraph a line; a table becomes one line per row, its cells joined by " | ".
The title is the document's title property, else its first Title or Heading paragraph.
python-docx is the one maintained pure-Python reader of the format. Its text walk is not
used: it reads only runs standing right in a paragraph and paragraphs right in the body, so
it loses what an editor's Word file holds besides: tracked insertions (``w:ins``: "保持在一万
三千亿斤以上" read as "保持在以上"), paragraphs in content controls (``w:sdt``), text boxes and
field results. The text is what Word shows with the changes accepted; a text box's paragraphs
follow the paragraph it is anchored in.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.text.paragraph import Paragraph

from assistant.corpus.extracted import Extracted, Unreadable

CELL_SEPARATOR = " | "
_PARAGRAPH, _TABLE, _ROW, _CELL = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_TEXT, _BREAK, _TEXT_BOX = qn("w:t"), qn("w:br"), qn("w:txbxContent")
_SPACING = {qn("w:tab"): "\t", qn("w:ptab"): "\t", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
# Never the text Word shows: deleted and moved-away runs, field codes, properties, and the
# copy of a drawing (text box) kept for older readers, beside the one read.
_NOT_TEXT = frozenset(
    [qn(f"w:{tag}") for tag in ("del", "moveFrom", "delText", "instrText", "pPr", "rPr", "sdtPr", "sectPr")]
    + ["{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"]
)
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
    for block in _blocks(document.element.body):
        if block.tag == _TABLE:
            lines += _table_rows(block)
            continue
        own, boxes = _paragraph(block)
        style = Paragraph(block, document).style
        if own and heading is None and style is not None and _is_heading(style.name or ""):
            heading = " ".join(own)
        lines += own + boxes
    # The creation date and author are not read: Word's templates carry their own (python-docx's
    # says 2013 and "python-docx"), which would pass for the article's.
    title = " ".join((document.core_properties.title or "").split()) or heading
    return Extracted(text="\n".join(lines), title=title)


def _is_heading(style: str) -> bool:
    return style == "Title" or style.startswith("Heading")


def _blocks(container: BaseOxmlElement) -> Iterator[BaseOxmlElement]:
    """The paragraphs and tables of a body or cell in order, also inside content controls
    and other wrappers (tracked moves, custom XML); deleted ones left out."""
    for child in container:
        if child.tag in (_PARAGRAPH, _TABLE):
            yield child
        elif child.tag not in _NOT_TEXT:
            yield from _blocks(child)


def _paragraph(paragraph: BaseOxmlElement) -> tuple[list[str], list[str]]:
    """A paragraph's lines (a soft line break, Shift+Enter, ends one), and the lines of the
    text boxes anchored in it."""
    parts: list[str] = []
    boxes: list[str] = []

    def walk(element: BaseOxmlElement) -> None:
        for child in element:
            tag = child.tag
            if tag == _TEXT:
                parts.append(child.text or "")
            elif tag in _SPACING:
                parts.append(_SPACING[tag])
            elif tag == _BREAK:
                # A page or column break ends no line of the text (python-docx's reading too).
                parts.append("\n" if child.get(qn("w:type"), "textWrapping") == "textWrapping" else "")
            elif tag == _TEXT_BOX:
                boxes.extend(line for block in _blocks(child) for line in _block_lines(block))
            elif tag not in _NOT_TEXT:
                walk(child)

    walk(paragraph)
    lines = [" ".join(line.split()) for line in "".join(parts).split("\n")]
    return [line for line in lines if line], boxes


def _block_lines(block: BaseOxmlElement) -> list[str]:
    if block.tag == _TABLE:
        return _table_rows(block)
    own, boxes = _paragraph(block)
    return own + boxes


def _table_rows(table: BaseOxmlElement) -> list[str]:
    """One line a row; a cell merged across columns is written once."""
    rows = []
    for row in table.iterchildren(_ROW):
        cells: list[str] = []
        for cell in row.iterchildren(_CELL):
            text = " ".join(" ".join(_block_lines(block)) for block in _blocks(cell))
            text = " ".join(text.split())
            if not cells or text != cells[-1]:
                cells.append(text)
        if any(cells):
            rows.append(CELL_SEPARATOR.join(cells))
    return rows
