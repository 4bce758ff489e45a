"""The web app in a real browser: `assistant serve` with the real model, driven by Debian's chromium.

The server runs in a subprocess on a free port over a copy of the seed
corpus (or an empty one); Playwright drives /usr/bin/chromium (installed by `make test`, never
downloaded). Screenshots go to ``ASSISTANT_SCREENSHOTS`` when it is set
(that is how docs/screenshot.png is made), else to the test's temp folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from assistant.manage import ADMIN_REQUIRED
from tests.conftest import SEED_DIR
from tests.gradio_http import call, free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
STARTUP_SECONDS = 300  # builds the seed index with the real model first
ANSWER_MS = 120_000
PASSWORD = "browser-admin-password"

UPLOADED = """青岛港开通至非洲东海岸的集装箱直达航线

　　本报青岛3月5日电　青岛港集团今天宣布，开通至肯尼亚蒙巴萨港的集装箱直达航线。该航线由中远海运集团运营，每周一班，单程航行时间为28天，运价按$$p=c+m$$计算。
　　首航船舶“中远之星”号载有集装箱1200个，货物主要是工程机械和日用消费品。港口负责人介绍，新航线将使山东企业出口非洲的运输成本降低约15%。
"""


@contextlib.contextmanager
def _serving(root: Path, corpus: Path) -> Iterator[str]:
    """`assistant serve` over ``corpus`` with the admin password and votes on; yields its url."""
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_CORPUS": str(corpus),
        "ASSISTANT_INDEX": str(root / "index"),
        "ASSISTANT_ADMIN_PASSWORD": PASSWORD,
    }
    env.pop("ASSISTANT_MODEL", None)
    log = open(root / "serve.log", "w")  # noqa: SIM115 - closed after the process ends
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--feedback", "on"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            log.close()
            pytest.fail(f"assistant serve exited ({process.returncode}):\n{(root / 'serve.log').read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"assistant serve not up after {STARTUP_SECONDS}s")
            time.sleep(1)
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`assistant serve` over a copy of the seed corpus; yields (url, corpus folder)."""
    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus"
    shutil.copytree(SEED_DIR, corpus)
    with _serving(root, corpus) as url:
        yield url, corpus


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`assistant serve` started on an empty corpus, as a new user starts it; yields its url."""
    root = tmp_path_factory.mktemp("browser-empty")
    (root / "corpus").mkdir()
    with _serving(root, root / "corpus") as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run `make test`, which installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1200, "height": 1400})
    page.goto(url, wait_until="domcontentloaded")  # never networkidle: Gradio keeps a stream
    page.get_by_label("问题", exact=True).wait_for(timeout=60_000)
    return page


@pytest.fixture
def page(server: tuple[str, Path], browser: Browser) -> Page:
    return _open(browser, server[0])


def _screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ASSISTANT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.wait_for_timeout(500)  # let the page settle after the last update
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    return path


def _ask(page: Page, question: str, answers_before: int, tap: bool = False) -> Locator:
    """Type a question, press Enter (or tap send), and return the new answer bubble once it is complete."""
    box = page.get_by_label("问题", exact=True)
    box.fill(question)
    if tap:
        page.locator("#question .submit-button").click()
    else:
        box.press("Enter")
    page.wait_for_function(
        """n => {
            const bubble = document.querySelectorAll('#chat .bot.message')[n];
            return bubble && /来源|没有找到/.test(bubble.innerText);
        }""",
        arg=answers_before,
        timeout=ANSWER_MS,
    )
    return page.locator("#chat .bot.message").nth(answers_before)


def test_answer_first_sources_open_at_the_quote_beside_it_and_follow_up_works(
    page: Page, tmp_path: Path
) -> None:
    answer = _ask(page, "火神山医院是哪家企业负责建设的？", 0)
    assert answer.locator("strong").first.inner_text() == "中建三局"  # the answer span comes first
    assert "中建三局" in answer.locator("blockquote .answer").first.inner_text()  # marked in its quote
    assert "[1] 《让党旗在疫情防控一线高高飘扬" in answer.inner_text()
    label = answer.locator("strong[title]").first  # 高/中/低, its measured meaning on hover and beside it
    assert label.inner_text() in ("高", "中", "低") and "首条引文含答案" in (
        label.get_attribute("title") or ""
    )
    assert (
        "首条引文含答案" in answer.locator("small").first.inner_text() and "得分" not in answer.inner_text()
    )
    panel = page.locator("#sources")
    chat_box, panel_box = page.locator("#chat").bounding_box(), panel.bounding_box()
    assert chat_box and panel_box and panel_box["x"] >= chat_box["x"] + chat_box["width"] - 1  # beside
    mark = panel.locator("mark").first
    mark.wait_for(state="visible")
    assert "中建三局" in mark.inner_text()
    page.wait_for_timeout(300)  # the panel scrolls to its quotes on the next frame
    assert mark.evaluate(IN_VIEW_JS), "the panel did not open the article at the quote"
    fold = panel.locator("details").first
    assert not fold.locator("code").first.is_visible()
    fold.locator("summary").click()  # the citation lines to copy
    assert fold.locator("code").first.inner_text().startswith("《让党旗在疫情防控一线高高飘扬")
    page.get_by_label("问题", exact=True).wait_for(state="visible")
    _screenshot(page, "screenshot.png", tmp_path)

    _ask(page, "雷神山医院项目指挥部成立了什么组织？", 1)
    follow = _ask(page, "他们在仪式上做了什么？", 2)
    text = follow.locator("blockquote").first.inner_text()
    assert "宣誓" in text or "授旗" in text, text
    assert "沿用上文的关键词" in follow.inner_text()


def test_on_a_phone_the_sources_panel_goes_below_the_chat(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    send = page.locator("#question .submit-button")  # a phone's keyboard may have no Enter that sends
    box = send.bounding_box()
    assert box and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    _ask(page, "火神山医院是哪家企业负责建设的？", 0, tap=True)
    chat_box, panel_box = page.locator("#chat").bounding_box(), page.locator("#sources").bounding_box()
    assert chat_box and panel_box and panel_box["y"] >= chat_box["y"] + chat_box["height"] - 1
    assert panel_box["width"] <= 390


def test_off_topic_question_is_told_plainly_with_the_nearest_passages_folded(page: Page) -> None:
    answer = _ask(page, "红烧肉应该怎么做？", 0)
    assert "没有" in answer.inner_text()
    fold = answer.locator("details")
    assert "未经确认的相关段落" in fold.locator("summary").inner_text()
    assert not fold.locator("mark").first.is_visible()  # nothing looks like an answer until opened
    fold.locator("summary").click()
    assert fold.locator("mark").first.is_visible()


IN_VIEW_JS = """el => {
  const r = el.getBoundingClientRect();
  for (let p = el.parentElement; p; p = p.parentElement) {
    const s = getComputedStyle(p);
    if (/(auto|scroll)/.test(s.overflowY) && p.scrollHeight > p.clientHeight) {
      const box = p.getBoundingClientRect();
      if (r.top < box.top - 1 || r.top >= box.bottom) return false;
    }
  }
  return r.top >= 0 && r.top < innerHeight;
}"""


def test_after_a_long_answer_the_question_and_the_answer_start_stay_in_view(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 720})  # a phone: answers run taller than the chat
    _ask(page, "雷神山医院项目指挥部成立了什么组织？", 0)
    answer = _ask(page, "火神山医院是哪家企业负责建设的？", 1)
    page.wait_for_timeout(300)  # the scroll runs on the next frame
    chat = page.locator("#chat").bounding_box()
    assert chat and chat["height"] >= 420  # the chat fills the window, with a floor
    assert answer.bounding_box()["height"] > chat["height"]  # long enough that the view must choose
    question = page.locator("#chat .user.message").nth(1)
    assert question.evaluate(IN_VIEW_JS), "the reader's question scrolled out of view"
    assert answer.evaluate(IN_VIEW_JS), "the start of the answer is out of view"


def test_a_thumbs_down_with_the_right_answer_is_recorded(page: Page, server: tuple[str, Path]) -> None:
    log = server[1].parent / "index" / "feedback.jsonl"
    before = log.read_text(encoding="utf-8").count("\n") if log.exists() else 0
    _ask(page, "武汉那两座临时医院是谁盖的？", 0)
    _ask(page, "天津派去的医疗队里党员多吗", 1)
    page.locator("#chat").get_by_label("Dislike").nth(1).click()
    form = page.locator("#feedback-form").first
    form.wait_for(state="visible")
    form.get_by_label("正确答案").fill("中建三局")
    page.locator("#feedback-send").click()
    form.wait_for(state="hidden")
    assert "已记录" in page.locator("#feedback-status").inner_text()
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()[before:]]
    vote, note = lines
    assert vote["vote"] == "down" and vote["question"] == "天津派去的医疗队里党员多吗"
    assert vote["history"] == ["武汉那两座临时医院是谁盖的？"]
    assert note == {"id": vote["id"], "note": "", "correction": "中建三局", "no_answer": False}


def _corpus_files(corpus: Path) -> dict[str, bytes]:
    return {p.relative_to(corpus).as_posix(): p.read_bytes() for p in corpus.rglob("*") if p.is_file()}


def _choose(page: Page, dropdown: str, option: str) -> None:
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=option).click()


def test_management_needs_the_admin_password(page: Page, server: tuple[str, Path]) -> None:
    url, corpus = server
    before = _corpus_files(corpus)
    page.get_by_role("tab", name="语料库").click()
    page.locator("#article-table").wait_for()
    assert not page.locator("#article-upload").is_visible()
    assert not page.get_by_role("button", name="更新索引", exact=True).is_visible()
    page.get_by_label("管理员密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    page.get_by_text("密码不对").wait_for(timeout=30_000)
    assert not page.locator("#article-upload").is_visible()
    # The same server refuses a script that skips the page and calls the handlers directly.
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    assert call(port, "save-paste", ["", "伪造", "　　伪造的文章。"])[0] == ADMIN_REQUIRED
    assert call(port, "delete-article", ["", sorted(before)[0], True])[0] == ADMIN_REQUIRED
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert call(port, "save-paste", ["", "伪造", "　　伪造的文章。"], rebound) == 400
    assert _corpus_files(corpus) == before


def test_uploaded_article_is_indexed_cited_deleted_and_restored(page: Page, tmp_path: Path) -> None:
    upload = tmp_path / "青岛港 新航线.txt"  # a space and Chinese characters, GBK-encoded
    upload.write_bytes(UPLOADED.encode("gbk"))
    page.get_by_role("tab", name="语料库").click()
    page.get_by_label("管理员密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("已登录为管理员").wait_for(timeout=30_000)
    page.locator("#article-upload input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="保存上传的文章").click()
    page.get_by_text("已加入").wait_for(timeout=30_000)
    page.get_by_role("button", name="更新索引", exact=True).click()
    page.get_by_text("索引已更新").wait_for(timeout=ANSWER_MS)
    page.locator("#article-table").get_by_text("青岛港开通至非洲东海岸的集装箱直达航线").wait_for()
    _screenshot(page, "corpus.png", tmp_path)

    page.get_by_role("tab", name="问答").click()
    answer = _ask(page, "青岛至蒙巴萨的航线单程要航行多少天？", 0)
    assert "28天" in answer.locator("blockquote").first.inner_text()
    assert "青岛港开通至非洲东海岸的集装箱直达航线" in answer.inner_text()
    panel = page.locator("#sources")
    assert "28天" in panel.locator("mark").first.inner_text()
    for shown in (answer, panel):  # quoted as written, never rendered as math
        assert "$$p=c+m$$" in shown.inner_text() and shown.locator(".katex").count() == 0

    page.get_by_role("tab", name="语料库").click()
    assert page.locator("#delete-choice input").input_value() == "", "nothing is chosen for deletion"
    _choose(page, "delete-choice", "青岛港 新航线.txt")
    page.get_by_role("button", name="删除并更新索引").click()
    page.get_by_text("请先勾选").wait_for(timeout=30_000)
    page.get_by_label("确认删除 青岛港 新航线.txt").check()
    page.get_by_role("button", name="删除并更新索引").click()
    page.get_by_text("删除 1 篇").wait_for(timeout=ANSWER_MS)
    _choose(page, "restore-choice", "青岛港 新航线.txt")
    page.get_by_role("button", name="恢复").click()
    page.get_by_text("已恢复：青岛港 新航线.txt").wait_for(timeout=ANSWER_MS)
    page.locator("#article-table").get_by_text("青岛港开通至非洲东海岸的集装箱直达航线").wait_for()


def test_a_saved_paste_leaves_the_boxes_and_a_refused_one_keeps_them(page: Page) -> None:
    page.get_by_role("tab", name="语料库").click()
    page.get_by_label("管理员密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("已登录为管理员").wait_for(timeout=30_000)
    title, body = page.get_by_label("标题", exact=True), page.get_by_label("正文", exact=True)
    title.fill("只有标点")
    body.fill("。。。！")
    page.get_by_role("button", name="保存粘贴的文章").click()
    page.locator("#corpus-status").get_by_text("未加入").wait_for(timeout=30_000)
    assert (title.input_value(), body.input_value()) == ("只有标点", "。。。！")  # nothing typed is lost
    title.fill("龙潭河镇取消赈酒")
    body.fill("　　龙潭河镇党委劝导村民取消了赈酒和嫁娶喜宴。")
    page.get_by_role("button", name="保存粘贴的文章").click()
    page.locator("#corpus-status").get_by_text("已加入").wait_for(timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('textarea')].every(t => !/龙潭河镇/.test(t.value))",
        timeout=10_000,
    )  # a second click has nothing to save twice


SEED_QUESTION = "天津首批援助医疗队中有多少名党员？"  # listed by the seed article below
SEED_ARTICLE = "004_cc6cff157fc3fbb6.txt"
EXAMPLES_JS = "() => [...document.querySelectorAll('#chat button.example')].map(b => b.innerText.trim())"


def _examples_become(page: Page, present: bool) -> None:
    page.wait_for_function(
        "([q, present]) => { const shown = [...document.querySelectorAll('#chat button.example')]"
        ".map(b => b.innerText.trim()); return shown.length > 0 && shown.includes(q) === present; }",
        arg=[SEED_QUESTION, present],
        timeout=30_000,
    )


def test_examples_follow_a_delete_and_a_restore(page: Page, server: tuple[str, Path]) -> None:
    assert SEED_QUESTION in page.evaluate(EXAMPLES_JS)
    page.get_by_role("tab", name="语料库").click()
    page.get_by_label("管理员密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("已登录为管理员").wait_for(timeout=30_000)
    _choose(page, "delete-choice", SEED_ARTICLE)
    page.get_by_label(f"确认删除 {SEED_ARTICLE}").check()
    page.get_by_role("button", name="删除并更新索引").click()
    page.get_by_text("删除 1 篇").wait_for(timeout=ANSWER_MS)
    page.get_by_role("tab", name="问答").click()
    _examples_become(page, present=False)  # this page's chat, at once
    assert SEED_QUESTION not in (page.get_by_label("问题", exact=True).get_attribute("placeholder") or "")

    page.goto(server[0], wait_until="domcontentloaded")  # a page opened afterwards
    page.get_by_label("问题", exact=True).wait_for(timeout=60_000)
    _examples_become(page, present=False)
    page.wait_for_timeout(2000)  # the page's load events have run: the list stays without it
    assert SEED_QUESTION not in page.evaluate(EXAMPLES_JS)

    page.get_by_role("tab", name="语料库").click()
    page.get_by_label("管理员密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("已登录为管理员").wait_for(timeout=30_000)
    _choose(page, "restore-choice", SEED_ARTICLE)
    page.get_by_role("button", name="恢复").click()
    page.get_by_text(f"已恢复：{SEED_ARTICLE}").wait_for(timeout=ANSWER_MS)
    page.get_by_role("tab", name="问答").click()
    _examples_become(page, present=True)  # its listed question is asked again, and shown


def test_examples_appear_once_the_first_articles_are_indexed(browser: Browser, empty_server: str) -> None:
    page = _open(browser, empty_server)
    assert page.evaluate(EXAMPLES_JS) == []  # nothing to ask about yet, and no made-up example
    page.get_by_role("tab", name="语料库").click()
    page.get_by_label("管理员密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("已登录为管理员").wait_for(timeout=30_000)
    page.locator("#article-upload input[type=file]").set_input_files(str(SEED_DIR / SEED_ARTICLE))
    page.get_by_role("button", name="保存上传的文章").click()
    page.get_by_text("已加入").wait_for(timeout=30_000)
    page.get_by_role("button", name="更新索引", exact=True).click()
    page.get_by_text("索引已更新").wait_for(timeout=ANSWER_MS)
    page.get_by_role("tab", name="问答").click()
    _examples_become(page, present=True)  # this page's chat, at once
    hint = page.get_by_label("问题", exact=True).get_attribute("placeholder") or ""
    assert hint.startswith("输入问题，例如：") and hint.split("：", 1)[1] in page.evaluate(EXAMPLES_JS)

    later = _open(browser, empty_server)  # a page opened afterwards
    _examples_become(later, present=True)

    # Clicking one asks it, as clicking an example shown at startup does.
    page.locator("#chat button.example", has_text=SEED_QUESTION).click()
    page.wait_for_function(
        "() => /来源/.test(document.querySelector('#chat .bot.message')?.innerText || '')",
        timeout=ANSWER_MS,
    )
    assert page.locator("#chat .user.message").first.inner_text().strip() == SEED_QUESTION
    answer = page.locator("#chat .bot.message").first
    assert "74名党员" in answer.locator("blockquote").first.inner_text()
    assert "《党旗在防控疫情斗争第一线高高飘扬》" in answer.inner_text()
    assert "74名" in page.locator("#sources mark").first.inner_text()
    page.locator("#question .submit-button").wait_for(state="visible")  # the send button is back


# The text lines inside the chat's visible area that Gradio's scroll-to-bottom arrow covers;
# null when the arrow is not shown.
UNDER_THE_ARROW_JS = """() => {
  const arrow = document.querySelector("#chat .scroll-down-button-container button");
  if (!arrow) return null;
  const a = arrow.getBoundingClientRect();
  const list = document.querySelector("#chat [role=log]");
  const shown = list.getBoundingClientRect();
  const covered = [];
  const walk = document.createTreeWalker(list, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      const top = Math.max(r.top, shown.top), bottom = Math.min(r.bottom, shown.bottom);
      if (top < bottom && top < a.bottom && bottom > a.top && r.left < a.right && r.right > a.left)
        covered.push(node.textContent.trim().slice(0, 30));
    }
  }
  return covered;
}"""


def test_on_a_phone_the_scroll_down_arrow_never_covers_the_answer(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _ask(page, "雷神山医院项目指挥部成立了什么组织？", 0)
    _ask(page, "火神山医院是哪家企业负责建设的？", 1)
    # Gradio shows the arrow while the list is more than 100 px above its end: from there up, the
    # arrow sat over the answer's last lines (its citation lines) until the reader reached the end.
    for above_the_end in (300, 200, 150, 110, 0):
        page.evaluate(
            "d => { const l = document.querySelector('#chat [role=log]');"
            " l.scrollTop = l.scrollHeight - l.clientHeight - d; }",
            above_the_end,
        )
        page.wait_for_timeout(300)
        covered = page.evaluate(UNDER_THE_ARROW_JS)
        assert (covered is None) == (above_the_end == 0)  # shown above the end, gone at it
        assert not covered, f"{above_the_end} px above the end, the arrow covers {covered}"
