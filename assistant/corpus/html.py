"""Take the article out of a saved news page: its main text and its metadata.

A saved page holds the article inside the site's chrome: navigation, ads, related-news and
ranking lists, reader comments, footers. trafilatura alone often takes a whole page column
on Chinese sites, whose class names it does not know, so the article's container is found
first with a readability-style score made for Chinese (full-width punctuation counts,
link-heavy blocks and comment/recommendation blocks lose), and trafilatura turns that
container into text. A page where no block holds running sentences (a list page, a photo
gallery's comments, a login wall) is refused rather than read whole, so its chrome never
becomes an article. Metadata (title, date, author, source, url) comes from the whole page.
"""

from __future__ import annotations

import codecs
import copy
import functools
import re
import unicodedata
from typing import TYPE_CHECKING

from assistant.corpus.extracted import Extracted, Unreadable
from assistant.corpus.text import binary_kind

if TYPE_CHECKING:
    from configparser import ConfigParser

    from lxml.html import HtmlElement

# A page whose article text is shorter than this is a list, a login wall or an error page.
MIN_TEXT_CHARS = 20
# A block's own score below this (about two sentences) is not an article.
MIN_BLOCK_SCORE = 5.0
# A sibling of the article's block scoring this share of it is more of the article.
SIBLING_SHARE = 0.3
_DROPPED_TAGS = ("script", "style", "noscript", "template", "textarea", "svg", "iframe", "select")
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_SENTENCE_PUNCT = re.compile(r"[，。！？；：、,!?;]")
# id/class words of blocks that are never the article (readability's idea, with the words
# Chinese sites use: tuijian = 推荐, xgxw = 相关新闻, paihang = 排行, pinglun = 评论).
_NEGATIVE = re.compile(
    r"comment|reply|recommend|related|relate|rank|(?<!p)hot|footer|foot|sidebar|\bside|aside|share"
    r"|\bnav|menu|banner|\bads?\b|\bad[-_]|advert|sponsor|tuijian|xgxw|paihang|pinglun|login"
    r"|copyright|\btags?\b",
    re.I,
)
_POSITIVE = re.compile(r"article|content|post|text|body|story|main|detail|entry|zhengwen", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.I)
# Labels pages use for an encoding whose superset decodes what the label's strict codec fails on.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
}
# Single-byte Western charsets (as codecs names them): a label that fits any bytes.
_WESTERN = re.compile(r"iso8859-|cp125\d|ascii|mac-roman")
_EARLY_END = re.compile(r"</(?:html|body)\s*>", re.I)
_CHINESE_ENCODINGS = ["gb18030", "big5", "utf_8"]
# " _ 网易新闻", "-新浪新闻", "｜澎湃新闻": the site's name after the headline in <title>.
_TITLE_SEPARATOR = re.compile(r"\s*(?:[_|｜]|--|——|\s[-–—]\s|-(?=[^-]{2,12}(?:-|$)))\s*")
# Headings of the lists a site puts after an article, and its editor line, in cut_tail.
_LIST_HEADING = re.compile(
    r"(?:相关(?:新闻|阅读|文章|推荐|资讯|稿件|报道|链接)|延伸(?:阅读|推荐)|(?:推荐|热门|精彩|更多)(?:新闻|阅读|文章|推荐|视频)"
    r"|为[您你]推荐|猜你喜欢|热点新闻|(?:点击|热门|新闻)?排行榜?|更多精彩|今日推荐|关键词|点击进入专题"
    r"|(?:网友|热门|最新|全部)评论|我要评论)(?:[:：>»|].*)?"
)
# Headings no article gives its own section: the site's picks for the reader, cut wherever they stand.
_PICKS_HEADING = re.compile(r"(?:为[您你]推荐|猜你喜欢)(?:[:：>»|].*)?")
_EDITOR_LINE = re.compile(r"[（(\[【]?(?:责任编辑|责编|编辑)[:：]")
# A site's reprint, copyright or disclaimer notice printed inside the article's block.
_NOTICE_LINE = re.compile(
    r"(?:不得|禁止|严禁|谢绝)(?:任何)?(?:转载|复制|转贴)|转载请(?:注明|联系|与)|版权(?:所有|归.{0,12}所有)"
    r"|^[（(【\[]?(?:版权|免责)?声明[:：]"
)
_SOURCE_LINE = re.compile(
    r"来源[:：]\s*([^\s:：|｜,，/()（）]{2,20}?)(?=\s|\d|作者|编辑|时间|发布|[|｜,，/()（）]|$)"
)
_COPYRIGHT = re.compile(r"版权所有|all rights reserved|copyright", re.I)
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2000-\u200b\u202f\u205f\ufeff]+")


def extract_html(data: bytes, name: str) -> Extracted:
    """The article of a saved web page: its main text, one paragraph per line, and metadata.

    Args:
        data: the page's bytes, in any encoding (declared or not).
        name: the file's name; unused, as the caller names the file in its messages
            (every document reader takes the same two arguments).

    Returns:
        The article's text without the page's chrome, with title, date (ISO), author,
        source and canonical url when the page names them.

    Raises:
        Unreadable: the page holds no article text (a list page, a login wall, a blank page), or
            the file is another format (a PDF, an image) renamed.
    """
    import lxml.html
    import trafilatura
    from lxml.etree import Comment, ParserError, ProcessingInstruction, strip_elements

    other = binary_kind(data)
    if other:
        raise Unreadable(f"this is {other}, not a web page (another format renamed .html?)")
    # A page whose included header closes </html> early would leave the article outside the
    # parsed tree; the parser closes both tags at the end anyway.
    html = _EARLY_END.sub("", decode_html(data))
    try:
        tree = lxml.html.document_fromstring(html)
    except (ParserError, ValueError) as exc:
        raise Unreadable(f"not an HTML page ({exc})") from exc
    # Before scripts go: a page's date can stand only in a script (WeChat's publish time).
    # The extensive date search's last resort, dateparser, loads every locale (10 s on first
    # use), so it runs only for a page whose date the quick rules do not find.
    meta = trafilatura.extract_metadata(tree, extensive=False)
    date = meta.date or trafilatura.extract_metadata(tree).date
    for dropped in tree.xpath("|".join(f"//{tag}" for tag in _DROPPED_TAGS)):
        dropped.drop_tree()
    # HTML comments go, their tails kept: trafilatura loses the text after a comment
    # (qq.com wraps every stock-name link in <!--keyword--> marks).
    strip_elements(tree, Comment, ProcessingInstruction, with_tail=False)
    main = main_blocks(tree)
    if not main:
        raise Unreadable("no article text found in the page (no block of running sentences)")
    text = trafilatura.extract(
        _alone(main), include_comments=False, include_tables=True, favor_recall=True, config=_config()
    )
    text = drop_notices(cut_tail(clean_text(text or "")))
    if len(text) < MIN_TEXT_CHARS:
        raise Unreadable("no article text found in the page")
    return Extracted(
        text=text,
        title=_title(tree, meta.title),
        date=date or None,
        author=_author(tree, meta.author, text),
        source=_source(tree, meta.sitename),
        url=meta.url or None,
    )


@functools.cache
def _config() -> ConfigParser:
    """trafilatura's settings, with no minimum size for the text of the block we hand it.

    Under its default minimum (250 characters) trafilatura takes a short article through a
    recovery pass that puts every link of a paragraph on a line of its own.
    """
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    return config


def decode_html(data: bytes) -> str:
    """Decode a page: byte-order mark, then strict UTF-8, then the declared charset, then a guess.

    GBK and GB2312 are read as their superset GB18030 (pages labelled GB2312 often need it), Big5
    as Big5-HKSCS; a page with a few bytes its declared charset cannot decode keeps that charset.
    A Western label (ISO-8859-1, Windows-1252) is one candidate among the Chinese charsets.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _META_CHARSET.search(data[:4096])
    western: list[str] = []
    if declared:
        encoding = declared.group(1).decode("ascii", "replace").lower()
        encoding = _SUPERSETS.get(encoding, encoding)
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            encoding = ""
        if _WESTERN.match(encoding):
            # Latin-1 decodes any byte without an error, and this label is many servers' and
            # templates' default over GBK pages: the label is weighed against the Chinese charsets.
            western = [encoding]
        elif encoding:
            text = data.decode(encoding, errors="replace")
            # A few bad bytes in a page saved in its declared charset are damage, not a wrong label.
            if text.count("\ufffd") <= len(text) // 1000:
                return text
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_CHINESE_ENCODINGS + western).best()
    return str(best) if best is not None else data.decode("gb18030", errors="replace")


def main_blocks(tree: HtmlElement) -> list[HtmlElement]:
    """The elements holding the article's paragraphs, in page order; none when no block has sentences.

    Every block of running text (at least 10 characters outside links) scores one point
    plus one per sentence punctuation mark, up to three more for its length; its parent
    gets the score and its grandparent half. A candidate's score is scaled down by the
    share of its text inside links and moved by its id/class words. The best candidate's
    siblings that score at least ``SIBLING_SHARE`` of it come along.
    """
    scores: dict[HtmlElement, float] = {}
    for element in tree.iter():
        if not isinstance(element.tag, str) or element.tag == "a":
            continue
        own = (element.text or "") + "".join(child.tail or "" for child in element)
        own = _SPACES.sub("", own).strip()
        if len(own) < 10 or any(parent.tag == "a" for parent in element.iterancestors()):
            continue
        paragraph = element
        while paragraph.tag not in _BLOCK_TAGS and paragraph.getparent() is not None:
            paragraph = paragraph.getparent()
        score = 1 + len(_SENTENCE_PUNCT.findall(own)) + min(len(own) / 100, 3)
        parent = paragraph.getparent()
        for share, candidate in ((1.0, parent), (0.5, parent.getparent() if parent is not None else None)):
            if candidate is not None and candidate.tag != "html":
                scores[candidate] = scores.get(candidate, 0.0) + score * share
    ranked = {}
    for candidate, score in scores.items():
        score *= 1 - _link_density(candidate)
        if score >= MIN_BLOCK_SCORE:
            ranked[candidate] = score + _class_weight(candidate)
    if not ranked:
        return []
    best = max(ranked, key=ranked.__getitem__)
    # A block the page names a comment list, sidebar or footer is the article only when no other
    # block has running text: a page saved with its comments expanded (120 will do) scores its
    # comment list past the article by more than any fixed penalty. Unless that other block holds
    # it: then the named block is the article's own box, named for its share buttons (sina's
    # BSHARE_POP), and the block around it adds only the page's chrome.
    unnamed = [candidate for candidate in ranked if not _NEGATIVE.search(_words(candidate))]
    if unnamed and _NEGATIVE.search(_words(best)):
        other = max(unnamed, key=ranked.__getitem__)
        if best not in other.iterdescendants():
            best = other
    parent = best.getparent()
    # An article split by an ad or a picture box into sibling blocks: readability's sibling rule.
    return [
        sibling
        for sibling in (parent if parent is not None else [best])
        if sibling is best or ranked.get(sibling, 0.0) >= max(MIN_BLOCK_SCORE, ranked[best] * SIBLING_SHARE)
    ]


def _link_density(element: HtmlElement) -> float:
    total = len(element.text_content())
    linked = sum(len(link.text_content()) for link in element.iter("a"))
    return linked / total if total else 1.0


def _words(element: HtmlElement) -> str:
    return f"{element.get('id', '')} {element.get('class', '')}"


def _class_weight(element: HtmlElement) -> float:
    words = _words(element)
    return (5 if _POSITIVE.search(words) else 0) - (25 if _NEGATIVE.search(words) else 0)


def _alone(blocks: list[HtmlElement]) -> HtmlElement:
    """A page holding only ``blocks``, every run of text in them made a paragraph of its own.

    trafilatura reads paragraphs; text standing right in a <div> or <section> beside other
    blocks (a lead, an editor's note, WeChat's sections) would be lost or run together.
    """
    import lxml.html

    page = lxml.html.document_fromstring(
        '<html><body><article itemprop="articleBody"></article></body></html>'
    )
    article = page.find(".//article")
    for block in blocks:
        body = copy.deepcopy(block)
        body.tail = None
        if body.tag in ("tr", "td", "th"):
            # A layout table's row or cell (an old site's page): out of its table, trafilatura
            # drops a cell's text before its first <br>, the article's first paragraph.
            for cell in [body, *body.iterchildren("td", "th")]:
                cell.tag = "div"
        for container in list(body.iter("div", "section")):
            if any(_is_block(child) for child in container):
                _wrap_runs(container)
            else:
                container.tag = "p"
        article.append(body)
    return page


def _is_block(element: HtmlElement) -> bool:
    return isinstance(element.tag, str) and element.tag in _BLOCK_TAGS


def _wrap_runs(container: HtmlElement) -> None:
    """Put each run of text and inline elements between ``container``'s blocks in a <p>."""
    from lxml.html import Element

    children: list[HtmlElement] = []
    run = Element("p")
    run.text = container.text
    for child in list(container):
        if _is_block(child):
            if run.text_content().strip():
                children.append(run)
            run = Element("p")
            run.text, child.tail = child.tail, None
            children.append(child)
        else:
            run.append(child)
    if run.text_content().strip():
        children.append(run)
    container.text = None
    container[:] = children


def clean_text(text: str) -> str:
    """One paragraph a line: spaces inside lines collapsed, blank lines and bullet marks dropped."""
    lines = []
    for line in unicodedata.normalize("NFC", text).splitlines():
        line = _SPACES.sub(" ", line).strip()
        if line.startswith("- "):
            line = line[2:].strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def cut_tail(text: str) -> str:
    """Drop what follows the article inside its block.

    That is a "相关新闻"-style heading and all after it, or all after the "责任编辑" line;
    only in the text's second half, where a page's lists and editor lines stand, since a
    heading in the first half may be the article's own. A "为你推荐" or "猜你喜欢" heading is
    never the article's own: it is cut after the first line wherever it stands (a short
    article's picks list can be longer than the article, stcn.com's).
    """
    lines = text.split("\n")
    seen, half = 0, len(text) / 2
    for number, line in enumerate(lines):
        key = re.sub(r"[\s·•]", "", line)
        if number and _PICKS_HEADING.fullmatch(key):
            return "\n".join(lines[:number])
        if seen >= half:
            if _LIST_HEADING.fullmatch(key):
                return "\n".join(lines[:number])
            if _EDITOR_LINE.match(key):
                return "\n".join(lines[: number + 1])
        seen += len(line) + 1
    return text


def drop_notices(text: str) -> str:
    """Drop the site's notice lines from the text's second half, where sites print them.

    "本文为CSDN原创文章，未经允许不得转载", "转载请注明出处：快科技", "免责声明：……": the same
    line under every article of a site, not the article's. A line in the first half is kept,
    since an article may be about reprints or copyright.
    """
    lines, kept = text.split("\n"), []
    seen, half = 0, len(text) / 2
    for line in lines:
        if seen < half or not _NOTICE_LINE.search(line):
            kept.append(line)
        seen += len(line) + 1
    return "\n".join(kept)


def _title(page: HtmlElement, found: str | None) -> str | None:
    """The headline: the longest heading or <title> part that <title> holds, without the site name.

    <title> is "headline _ column _ site" on most sites, while headings on the page also name
    other stories (a box of the author's latest articles), so a heading counts only when
    <title> contains it. Full-width spaces, which pages use for layout, are dropped.
    """
    titles = page.xpath("//title")
    full = _one_line(titles[0].text_content().replace("\u3000", "")) if titles else None
    if not full:
        return _one_line(found)
    candidates = [part for part in _TITLE_SEPARATOR.split(full) if part]
    for heading in page.xpath("//h1|//h2|//h3|//meta[@property='og:title']/@content"):
        text = _one_line(heading if isinstance(heading, str) else heading.text_content())
        if text and text.replace("\u3000", "") in full:
            candidates.append(text.replace("\u3000", ""))
    return max(candidates, key=len) if candidates else full


def _author(page: HtmlElement, found: str | None, text: str) -> str | None:
    """The author a meta tag names, else trafilatura's guess when the article text names it.

    trafilatura's guess from a byline often takes a commenter's name or a copyright line,
    which the article body does not hold.
    """
    named = page.xpath("//meta[@name='author' or @property='article:author' or @name='byline']/@content")
    author = _one_line(named[0]) if named else None
    if author and not author.startswith("http") and "@" not in author and not author.isdigit():
        return author
    found = _one_line(found)
    return found if found and found in text else None


def _source(page: HtmlElement, found: str | None) -> str | None:
    """The publisher: the page's "来源：" line, else og:site_name, else trafilatura's site name."""
    visible = page.body.text_content() if page.find("body") is not None else ""
    line = _SOURCE_LINE.search(_SPACES.sub(" ", visible))
    if line:
        return line.group(1)
    site = page.xpath("//meta[@property='og:site_name']/@content")
    name = _one_line(site[0] if site else found)
    return _one_line(_COPYRIGHT.sub("", name)) if name else None


def _one_line(value: str | None) -> str | None:
    value = _SPACES.sub(" ", value or "").strip()
    return value or None
