"""Real PDF and Word files, written by reportlab and python-docx, for the importer tests."""

from __future__ import annotations

from pathlib import Path

# Two pages of a printed newspaper: a running header, a page number in the footer, and
# paragraphs wrapped every 26 characters. The grain figure is only on page 2.
PAGE_1 = [
    "　　本报北京三月五日电（记者王小明）第十四届全国人民代表大会第二次会议今天上午在人民大会堂开幕，国务院总理作政府工作报告。",
    "　　报告提出，今年国内生产总值增长预期目标为百分之五左右，城镇新增就业一千二百万人以上。",
]
PAGE_2 = [
    "　　报告指出，要大力推进现代化产业体系建设，加快发展新质生产力。全年粮食产量保持在一万三千亿斤以上，确保国家粮食安全。",
    "　　代表们认为，报告实事求是、催人奋进，是一个凝心聚力的好报告。",
]
HEADER = "人民日报　2024年3月6日　要闻"
FONT = "STSong-Light"  # reportlab's built-in CJK CID font: no font file needed


def write_pdf(path: Path, pages: list[list[str]], encrypt: str | None = None, per_line: int = 26) -> Path:
    """A PDF with a text layer: one header line, the paragraphs wrapped, a "- n -" footer.

    Each list in ``pages`` starts a page; one too long for a page runs on to the next.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    width, height = A4
    number = 0

    def new_page() -> float:
        nonlocal number
        if number:
            pdf.setFont(FONT, 9)
            pdf.drawString(width / 2, 40, f"- {number} -")
            pdf.showPage()
        number += 1
        pdf.setFont(FONT, 9)
        pdf.drawString(72, height - 40, HEADER)
        pdf.setFont(FONT, 14)
        return height - 90

    for paragraphs in pages:
        y = new_page()
        for paragraph in paragraphs:
            for i in range(0, len(paragraph), per_line):
                if y < 80:
                    y = new_page()
                pdf.drawString(72, y, paragraph[i : i + per_line])
                y -= 22
            y -= 6
    pdf.setFont(FONT, 9)
    pdf.drawString(width / 2, 40, f"- {number} -")
    pdf.showPage()
    pdf.save()
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A PDF whose page is only a picture (drawn shapes): no text layer, as a scan."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.rect(72, 400, 300, 200, fill=1)
    pdf.showPage()
    pdf.save()
    return path


def write_docx(path: Path, title: str | None = None) -> Path:
    """A Word file: a heading, paragraphs, a table of regional figures, a closing paragraph."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("上海经济年报", level=1)
    document.add_paragraph("　　上海市统计局今天发布年度经济数据。")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [
            ("区域", "生产总值", "增速"),
            ("浦东新区", "一万六千亿元", "百分之五点五"),
            ("黄浦区", "三千二百亿元", "百分之四点九"),
        ]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("　　全市居民人均可支配收入达到八万四千八百三十四元，比上年增长百分之六点六。")
    document.save(str(path))
    return path


def write_docx_paragraphs(path: Path, paragraphs: list[str]) -> Path:
    """A Word file of plain paragraphs."""
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))
    return path
