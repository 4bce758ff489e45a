"""Which PDF library reads Chinese text layers verbatim: pypdf, pdfplumber or pdfminer.six.

Writes PDFs with reportlab's CJK font STSong-Light in three layouts (lines as typeset
newspaper columns, a letter-spaced "justified" line, glyphs placed one by one), extracts
each with every library, and counts, against the text drawn: characters lost, spaces
inserted, ideographic-space indents kept, and time per document. Run:

    .venv/bin/python bench/pdf_libraries.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.documents import FONT, HEADER, PAGE_1, PAGE_2, write_pdf  # noqa: E402

REPEAT = 20
LINE = "新华社上海电2024年上海GDP增长5.0%，达到4.72万亿元。"


def spaced(path: Path) -> Path:
    """One letter-spaced line (justified type) and the same line placed glyph by glyph."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    pdf = canvas.Canvas(str(path))
    text = pdf.beginText(72, 700)
    text.setFont(FONT, 14)
    text.setCharSpace(3)
    text.textLine(LINE)
    pdf.drawText(text)
    pdf.setFont(FONT, 14)
    for n, ch in enumerate(LINE):
        pdf.drawString(72 + 15 * n, 650, ch)
    pdf.showPage()
    pdf.save()
    return path


def extractors() -> dict[str, object]:
    def with_pypdf(path: Path) -> str:
        from pypdf import PdfReader

        return "\n".join(page.extract_text() for page in PdfReader(path).pages)

    def with_pdfplumber(path: Path) -> str:
        import pdfplumber

        with pdfplumber.open(path) as pdf:
            return "\n".join(page.extract_text() or "" for page in pdf.pages)

    def with_pdfminer(path: Path) -> str:
        from pdfminer.high_level import extract_text

        return extract_text(str(path))

    return {"pypdf": with_pypdf, "pdfplumber": with_pdfplumber, "pdfminer.six": with_pdfminer}


def score(expected: str, got: str) -> tuple[int, int]:
    """(characters of ``expected`` missing from ``got``, spaces ``got`` puts between two word characters).

    The running header and page-number lines are left out of ``got`` first; ``expected`` has
    no space between word characters.
    """
    got = "\n".join(
        line
        for line in got.splitlines()
        if HEADER[:4] not in line and not re.fullmatch(r"- \d+ -", line.strip())
    )
    bare = re.sub(r"\s", "", got)
    want = re.sub(r"\s", "", expected)
    missing = sum(max(0, want.count(ch) - bare.count(ch)) for ch in set(want))
    return missing, len(re.findall(r"(?<=\w)[ \u3000]+(?=\w)", got))


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    cases = {
        "typeset pages": (write_pdf(folder / "pages.pdf", [PAGE_1, PAGE_2]), "".join(PAGE_1 + PAGE_2)),
        "spaced and per-glyph": (spaced(folder / "spaced.pdf"), LINE + LINE),
    }
    print("| library | case | chars lost | spaces inserted | indents kept | ms |")
    print("|---|---|---|---|---|---|")
    for name, extract in extractors().items():
        extract(cases["typeset pages"][0])  # type: ignore[operator]  # imports, outside the timing
        for case, (path, expected) in cases.items():
            started = time.perf_counter()
            for _ in range(REPEAT):
                got = extract(path)  # type: ignore[operator]
            ms = (time.perf_counter() - started) * 1000 / REPEAT
            missing, inserted = score(expected.replace("\u3000", ""), got)
            indents = got.count("\n\u3000\u3000") if case == "typeset pages" else "-"
            print(f"| {name} | {case} | {missing} | {inserted} | {indents} | {ms:.0f} |")


if __name__ == "__main__":
    main()
