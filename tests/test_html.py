"""Saved news pages: the article's text and metadata come out, the page's chrome does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.corpus import read_article
from assistant.corpus.extracted import Unreadable
from assistant.corpus.html import extract_html
from assistant.indexing import update_index
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import FakeEmbedder

BODY = [
    "新京报讯（记者 王明）11月25日，城南水厂二期工程正式通水，日供水能力增加到每天30万吨。",
    "据市水务局介绍，二期工程总投资12.6亿元，历时三年建成，可满足约150万居民的用水需求。",
    "水务局负责人表示，明年还将改造老城区供水管网，全长约86公里，预计年底前完工。",
]

NAV = """
<div class="header"><ul class="nav">
  <li><a href="/">首页</a></li><li><a href="/news">新闻</a></li><li><a href="/sports">体育</a></li>
  <li><a href="/finance">财经</a></li><li><a href="/tech">科技</a></li><li><a href="/ent">娱乐</a></li>
</ul></div>
<div class="ad-banner"><a href="https://ad.example.com">限时特惠：新款手机直降八百元，点击抢购！</a></div>
"""

CHROME = """
<div class="related-news"><h3>相关新闻</h3><ul>
  <li><a href="/1">东郊污水厂扩建完成，日处理能力翻番</a></li>
  <li><a href="/2">全市地铁五号线下月开通试运营</a></li>
  <li><a href="/3">新能源汽车补贴政策明年调整</a></li>
</ul></div>
<div class="rank"><h3>点击排行</h3><ol>
  <li><a href="/4">某明星婚礼现场曝光，宾客名单惊人</a></li>
  <li><a href="/5">高铁票价调整，这些线路降价两成</a></li>
</ol></div>
<div class="comment-list">
  <div class="comment"><span class="user">网友甲</span><p>水费会不会涨价啊，希望有关部门说明一下情况。</p></div>
  <div class="comment"><span class="user">网友乙</span><p>终于通水了，我们小区水压一直不够，盼了好久。</p></div>
</div>
<div class="footer"><p>关于我们 | 联系我们 | 广告服务</p>
  <p>Copyright &copy; 2019 示例新闻网 版权所有 京ICP备12345678号</p></div>
"""


def news_page(charset: str = "utf-8", meta: bool = True, body: list[str] = BODY) -> str:
    """A saved news page shaped like the real ones: chrome around an article block."""
    paragraphs = "\n".join(f"<p>\u3000\u3000{line}</p>" for line in body)
    head = f'<meta charset="{charset}">' if meta else ""
    return f"""<!DOCTYPE html>
<html><head>{head}
<title>城南水厂二期工程正式通水_示例新闻网</title>
<meta property="og:title" content="城南水厂二期工程正式通水">
<meta property="article:published_time" content="2019-11-25T10:30:00+08:00">
<meta name="author" content="王明">
<link rel="canonical" href="https://news.example.com/2019/11/25/water.html">
<script>var ads = ["不应出现的脚本文字"];</script>
<style>.nav {{ color: red; }}</style>
</head><body>
{NAV}
<div class="main"><div class="article">
  <h1>城南水厂二期工程正式通水</h1>
  <div class="info">2019-11-25 10:30 来源：新京报 作者：王明</div>
  <div class="share"><a href="#">微博</a> <a href="#">微信</a> <a href="#">QQ空间</a></div>
  <div class="article-body" id="content">
{paragraphs}
  <p class="editor">责任编辑：李华</p>
  </div>
</div>
<div class="sidebar"><h3>热门推荐</h3><ul>
  <li><a href="/6">明星婚礼在新西兰举行，现场布置曝光</a></li>
  <li><a href="/7">台风今夜登陆，沿海地区停课一天</a></li>
</ul></div>
</div>
{CHROME}
</body></html>"""


CHROME_STRINGS = [
    "首页",
    "限时特惠",
    "东郊污水厂",
    "地铁五号线",
    "点击排行",
    "婚礼",
    "水费会不会涨价",
    "网友甲",
    "京ICP备",
    "关于我们",
    "不应出现的脚本文字",
    "color: red",
    "QQ空间",
]


def test_a_news_page_gives_its_article_without_the_chrome_around_it():
    article = extract_html(news_page().encode("utf-8"), "water.html")

    assert article.text.split("\n")[:3] == BODY
    for chrome in CHROME_STRINGS:
        assert chrome not in article.text
    assert article.title == "城南水厂二期工程正式通水"
    assert article.date == "2019-11-25"
    assert article.author == "王明"
    assert article.source == "新京报"
    assert article.url == "https://news.example.com/2019/11/25/water.html"


def test_paragraphs_are_one_a_line_with_spaces_normalised():
    text = extract_html(news_page().encode("utf-8"), "water.html").text

    assert "\n\n" not in text
    assert "\u3000" not in text and "\xa0" not in text
    assert all(line == line.strip() and line for line in text.split("\n"))


@pytest.mark.parametrize("declared", [True, False], ids=["meta-charset", "no-charset"])
def test_a_gbk_page_is_decoded(declared: bool):
    data = news_page(charset="gb2312", meta=declared).encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    article = extract_html(data, "gbk.html")

    assert article.text.split("\n")[:3] == BODY
    assert article.title == "城南水厂二期工程正式通水"


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252"])
def test_a_gbk_page_labelled_with_a_western_charset_is_read_as_gbk(label: str):
    # A server's or template's default label over GBK bytes: Latin-1 decodes any byte without an
    # error, which read the article as "¡¡¡¡ÐÂ¾©±¨Ñ¶£¨¼ÇÕß".
    assert extract_html(news_page(charset=label).encode("gbk"), "gbk.html").text.split("\n")[:3] == BODY
    french = [
        "Le président a déclaré à la presse que l'économie française était en croissance, après une année difficile.",
        "Les élèves reprendront les cours dès lundi prochain, a précisé le ministère de l'Éducation nationale.",
    ]
    page = news_page(charset=label, body=french).encode("latin-1", errors="ignore")
    assert extract_html(page, "fr.html").text.split("\n")[:2] == french  # a page in its label's charset


def test_a_big5_page_with_a_damaged_byte_keeps_its_declared_charset():
    body = [
        "香港特區政府今日宣佈，新一輪消費券將於下月發放，每名合資格市民可獲五千元。",
        "財政司司長表示，計劃涉及約六百三十萬名市民，預計帶動本地消費。",
    ]
    page = news_page(charset="big5", body=body).replace("城南水厂二期工程正式通水", "消費券下月發放")
    for simplified in ("首页", "新闻", "体育", "财经", "科技", "娱乐"):
        page = page.replace(simplified, "")
    data = page.encode("big5", errors="ignore").replace(
        "六百".encode("big5"), b"\xff" + "六百".encode("big5"), 1
    )

    text = extract_html(data, "big5.html").text

    assert text.split("\n")[:2] == [body[0], body[1].replace("六百", "\ufffd六百")]


def test_a_page_of_bare_paragraphs_is_read():
    page = "<html><head><title>通知</title></head><body><p>" + "</p><p>".join(BODY) + "</p></body></html>"

    assert extract_html(page.encode("utf-8"), "bare.html").text == "\n".join(BODY)


def test_a_page_without_article_text_is_unreadable():
    page = f"<html><head><title>首页_示例新闻网</title></head><body>{NAV}{CHROME}</body></html>"

    with pytest.raises(Unreadable, match="no article text"):
        extract_html(page.encode("utf-8"), "index.html")


@pytest.mark.parametrize("data", [b"", b"   \n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"])
def test_an_empty_or_binary_file_is_unreadable(data: bytes):
    with pytest.raises(Unreadable):
        extract_html(data, "broken.html")


def test_what_follows_the_editor_line_or_a_list_heading_is_not_the_article():
    more = [*BODY, "责任编辑：李华", "延伸阅读", "去年同期，东郊水厂曾因管道检修停水两天，影响五万户居民。"]
    text = extract_html(news_page(body=more).encode("utf-8"), "water.html").text

    assert text.split("\n") == [*BODY, "责任编辑：李华"]


def test_the_sites_picks_are_cut_even_when_longer_than_a_short_article():
    """stcn.com: a one-paragraph article whose 为你推荐 list (headline, summary, date) is longer."""
    picks = ["为你推荐"]
    for number in range(1, 5):
        picks += [
            f"第{number}条推荐新闻的标题，写得足够长以便成为一行",
            f"这是第{number}条推荐新闻的摘要，它比文章本身的段落还要长出许多字，读者看到的是另一篇文章。",
            "2019-09-3007:42",
        ]
    text = extract_html(news_page(body=[BODY[0], *picks]).encode("utf-8"), "short.html").text

    assert text == BODY[0]


def test_the_sites_reprint_and_disclaimer_notices_are_not_the_article():
    """csdn.com, mydrivers, qq, sina and stcn print these inside the article's block."""
    notices = [
        "本文为示例网原创文章，未经允许不得转载，如需转载请联系editor#example.com",
        "转载请注明出处：示例科技",
        "免责声明：本文来自自媒体，不代表本网的观点和立场。",
    ]
    body = [*BODY, *notices, "责任编辑：李华"]
    text = extract_html(news_page(body=body).encode("utf-8"), "notices.html").text

    assert text.split("\n") == [*BODY, "责任编辑：李华"]


def test_an_article_about_reprints_keeps_its_own_sentences():
    body = ["法院认定，被告网站未经许可转载原告文章，且在多家平台声称“版权所有，不得转载”。", *BODY]
    text = extract_html(news_page(body=body).encode("utf-8"), "court.html").text

    assert text.split("\n")[: len(body)] == body


def test_an_article_split_by_an_ad_into_two_blocks_keeps_both_halves():
    second = [
        "市水务局表示，城南水厂三期工程已完成选址，计划于2021年开工建设，总投资约9亿元。",
        "届时全市日供水能力将达到每天120万吨，基本满足到2030年的用水需求。",
        "水厂周边将同步建设滨水公园，面积约12公顷，向市民免费开放。",
    ]
    second_half = "".join(f"<p>{line}</p>" for line in second)
    ad = '<div class="ad-box"><a href="https://ad.example.com">贷款秒批，点击领取五万元额度</a></div>'
    page = news_page().replace(
        '<p class="editor">', f'</div>{ad}<div class="article-body">{second_half}<p class="editor">'
    )

    text = extract_html(page.encode("utf-8"), "split.html").text

    assert "\n".join([*BODY, *second]) in text
    assert "贷款" not in text


def test_links_and_comment_marks_inside_a_short_paragraph_stay_on_its_line():
    """qq.com wraps stock names in <!--keyword--> marks; a short article has no recovery pass."""
    first = (
        '<!--keyword--><span><a href="/stock/GOOG"><!--/keyword-->谷歌<!--keyword--></a></span>'
        '(<a href="/weibo">微博</a>)<!--/keyword-->在2014年收购的人工智能公司开发出一款新计算机。'
    )
    page = news_page(body=[]).replace('<p class="editor">', f"<p>{first}</p><p>{BODY[1]}</p><p>")

    text = extract_html(page.encode("utf-8"), "short.html").text

    assert "谷歌(微博)在2014年收购的人工智能公司开发出一款新计算机。\n" + BODY[1] in text


def test_text_standing_in_a_div_beside_paragraphs_is_its_own_line():
    lead = "【编者按】城南水厂二期工程今天通水，本报记者全程探访了建设现场。"
    page = news_page().replace(
        '<div class="article-body" id="content">', f'<div class="article-body" id="content">{lead}'
    )

    text = extract_html(page.encode("utf-8"), "lead.html").text

    assert text.split("\n")[:4] == [lead, *BODY]


def test_a_page_closing_html_early_still_gives_its_article():
    """A site's included header can close </html> before the article (gov.cn does)."""
    page = news_page().replace("</head><body>", "</head><body></body></html>", 1)

    assert extract_html(page.encode("utf-8"), "early.html").text.split("\n")[:3] == BODY


def test_the_headline_is_the_heading_that_the_title_names_not_another_stories():
    page = news_page().replace(
        '<div class="sidebar">',
        '<div class="sidebar"><h2>作者最新文章</h2><h3>明星婚礼在新西兰举行，现场布置曝光</h3>',
    )
    page = page.replace('<meta property="og:title" content="城南水厂二期工程正式通水">', "")

    assert extract_html(page.encode("utf-8"), "water.html").title == "城南水厂二期工程正式通水"


DATASET = Path("/work/shared/datasets/news-html")


@pytest.mark.skipif(not DATASET.is_dir(), reason="the news-html dataset is not on this machine")
def test_real_pages_keep_the_answers_and_drop_the_chrome():
    questions = [
        json.loads(line)
        for line in (DATASET / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts: dict[str, str] = {}
    for question in questions:
        page = question["page"]
        if page not in texts:
            texts[page] = extract_html((DATASET / "pages" / page).read_bytes(), page).text
        text = texts[page]
        assert all(chrome not in text for chrome in question["forbidden"]), question["id"]
        if question["answers"]:
            assert any(answer in text for answer in question["answers"]), question["id"]


def test_an_indexed_page_is_quoted_from_its_body_and_never_from_its_chrome(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    path = settings.corpus_dir / "water.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(news_page(charset="gbk").encode("gbk"))
    report = update_index(settings, fake_embedder)
    assert report.added == ["water.html"] and not report.skipped
    index = load_index(settings.index_dir)
    assert not [c for c in CHROME_STRINGS for p in index.passages if c in p.text]
    answerer = Answerer(Retriever(index, fake_embedder))

    answer = answerer.ask("城南水厂二期工程总投资多少？")
    first = answer.quotes[0]
    assert "总投资12.6亿元" in first.quote
    assert read_article(path, settings.corpus_dir).text[first.start : first.end] == first.quote
    assert first.title == "城南水厂二期工程正式通水" and first.file == "water.html"
    # The answer stands only in the related-news list: no quote may come from it.
    chrome = answerer.ask("东郊污水厂扩建后日处理能力怎么样？")
    assert not [c for c in CHROME_STRINGS for q in chrome.quotes if c in q.quote]


def test_a_page_saved_with_many_comments_gives_its_article_not_the_comments() -> None:
    # A reader saved the page with its comments expanded: 120 of them in the page's comment
    # list, more running text than the article, which must still win.
    comment = '<div class="comment"><span class="user">网友{n}</span><p>终于通水了，我们小区水压一直不够，盼了好久！</p></div>'
    many = "".join(comment.format(n=n) for n in range(120))
    page = news_page().replace('<div class="comment-list">', f'<div class="comment-list">{many}')
    assert (
        extract_html(page.encode(), "page.html").text == extract_html(news_page().encode(), "page.html").text
    )


def test_a_pdf_or_word_file_named_html_is_refused_as_what_it_is(tmp_path: Path) -> None:
    from tests.documents import PAGE_1, write_docx, write_pdf

    pdf = write_pdf(tmp_path / "a.pdf", [PAGE_1]).read_bytes()
    with pytest.raises(Unreadable, match=r"^this is a PDF document, not a web page"):
        extract_html(pdf, "a.html")
    with pytest.raises(Unreadable, match=r"^this is a ZIP archive \(or Office document\), not a web page"):
        extract_html(write_docx(tmp_path / "a.docx").read_bytes(), "a.html")


def test_an_old_sites_table_layout_keeps_the_first_paragraph():
    # Pages of older sites (government, local papers) set the article in a layout table's cell,
    # paragraphs apart by <br><br>; the first paragraph, before the first <br>, was lost.
    cell = "<font size=3>" + "<br><br>".join("\u3000\u3000" + line for line in BODY) + "</font>"
    page = (
        f"<html><head><title>城南水厂二期工程正式通水_示例新闻网</title></head><body>{NAV}"
        f"<table width=760><tr><td><a href='/'>首页</a></td></tr><tr><td>{cell}</td></tr></table>{CHROME}</body></html>"
    )
    assert extract_html(page.encode("gbk"), "old.html").text.split("\n") == BODY


def test_an_article_box_named_for_its_share_buttons_is_still_the_article():
    # sina names the article's own box after its share buttons (BSHARE_POP); the block around
    # it adds only the page's chrome, which must stay out. A full-length article (sina's has a
    # dozen paragraphs) outscores the box's penalty for the name.
    body = BODY + [
        "二期工程采用深度处理工艺，出厂水质全面达到新国标要求，106项指标均优于标准。",
        "工程建设期间，施工方克服了雨季长、地质条件复杂等困难，比原计划提前两个月完工。",
        "市民李女士说，以前一到夏天用水高峰，家里五楼的水龙头就没水，现在终于不用担心了。",
        "据了解，城南水厂三期工程已完成前期论证，计划于明年下半年开工建设。",
        "届时全市日供水能力将达到每天180万吨，基本满足到2030年的城市用水需求。",
    ]
    body = [a + b for a, b in zip(body, body[1:] + body[:1], strict=True)]  # sina's long paragraphs
    paragraphs = "".join(f"<p>\u3000\u3000{line}</p>" for line in body)
    page = (
        f"<html><head><title>城南水厂二期工程正式通水_示例新闻网</title></head><body>{NAV}"
        '<div class="blkContainerSblk"><div class="date-source">2019年11月25日10:30 示例新闻网 我有话说(1307人参与) 收藏本文</div>'
        f'<div id="artibody" class="BSHARE_POP blkContainerSblkCon">{paragraphs}</div>'
        "<p>您可通过示例新闻网首页顶部“我的收藏”，查看所有收藏过的文章。</p></div>"
        f"{CHROME}</body></html>"
    )
    assert extract_html(page.encode(), "share.html").text.split("\n") == body
