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


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
# A text box as Word 2010+ writes it: the shape (mc:Choice) and a VML copy for older readers (mc:Fallback).
_TEXT_BOX = (
    f'<w:r {_W} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"><mc:AlternateContent><mc:Choice Requires="wps">'
    '<w:drawing><wp:anchor><wp:docPr id="1" name="文本框 1"/><a:graphic><a:graphicData '
    'uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp><wps:txbx>'
    "<w:txbxContent><w:p><w:r><w:t>{box}</w:t></w:r></w:p></w:txbxContent></wps:txbx></wps:wsp>"
    "</a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape>"
    "<v:textbox><w:txbxContent><w:p><w:r><w:t>{box}</w:t></w:r></w:p></w:txbxContent></v:textbox>"
    "</v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
)


def write_edited_docx(path: Path) -> Path:
    """A Word file as an editor leaves it: a tracked insertion and deletion, a paragraph in a
    content control, a text box, and a cross-reference field, each holding words of the article."""
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    edited = document.add_paragraph("全年粮食产量保持在")
    edited._p.append(
        parse_xml(f'<w:ins {_W} w:id="1" w:author="编辑"><w:r><w:t>一万三千亿斤</w:t></w:r></w:ins>')
    )
    edited._p.append(
        parse_xml(
            f'<w:del {_W} w:id="2" w:author="编辑"><w:r><w:delText>一万二千亿斤</w:delText></w:r></w:del>'
        )
    )
    edited.add_run("以上，确保国家粮食安全。")
    edited._p.addnext(
        parse_xml(
            f'<w:sdt {_W}><w:sdtPr><w:alias w:val="正文"/></w:sdtPr><w:sdtContent><w:p><w:r>'
            "<w:t>城镇新增就业一千二百万人以上。</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        )
    )
    boxed = document.add_paragraph("会议期间，")
    boxed._p.append(parse_xml(_TEXT_BOX.format(box="雷神山医院今天交付使用。")))
    cited = document.add_paragraph("详见")
    cited._p.append(
        parse_xml(f'<w:fldSimple {_W} w:instr=" REF 表一 "><w:r><w:t>表一</w:t></w:r></w:fldSimple>')
    )
    cited.add_run("所列数据。")
    document.save(str(path))
    return path


def write_unmapped_pdf(path: Path, source: Path) -> Path:
    """``source`` (a reportlab PDF) as a typesetter without a Unicode map writes it: its CJK font
    encoded /Identity-H with no /ToUnicode, each character drawn by its glyph number."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ByteStringObject, ContentStream, NameObject

    writer = PdfWriter(clone_from=PdfReader(source))
    for page in writer.pages:
        for font in page["/Resources"]["/Font"].values():
            if font.get_object().get("/Subtype") == "/Type0":
                font.get_object()[NameObject("/Encoding")] = NameObject("/Identity-H")
        content = ContentStream(page.get_contents(), writer)
        for operands, operator in content.operations:
            if operator == b"Tj":
                # pypdf reads a string of UTF-16 codes as text: its bytes are the codes drawn.
                drawn = operands[0].original_bytes
                codes = [int.from_bytes(drawn[i : i + 2], "big") for i in range(0, len(drawn), 2)]
                glyphs = b"".join((code * 7919 % 30000 + 1).to_bytes(2, "big") for code in codes)
                operands[0] = ByteStringObject(glyphs)
        page.replace_contents(content)
    writer.write(path)
    return path
