"""The JSON API's request and reply shapes, with the Chinese examples its OpenAPI page shows.

A reply model documents what :mod:`assistant.api` sends; the ask reply itself is
:meth:`assistant.answer.Answer.to_json`, sent as it is (``extra="allow"`` keeps any
field a later version adds to it, such as a PDF quote's page), so the API and
``assistant ask --json`` can never drift apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QUESTION = "雷神山医院项目指挥部成立了什么组织？"
FOLLOW_UP = "他们在仪式上做了什么？"


QUOTE = (
    "1月28日下午，中建三局雷神山医院项目指挥部火速成立临时党委，并为党员突击队、青年突击队授旗。"
    "仪式上，120余名党员面对鲜红的党旗，高举右拳，字字铿锵，重温入党誓词，宣示决战决胜、在2月5日按期交付医院的坚定决心。"
)
TITLE = "党旗在防控疫情斗争第一线高高飘扬"
# A real reply over the seed corpus, its markdown shortened.
ASK_EXAMPLE = {
    "question": QUESTION,
    "answered": True,
    "answer": f"> {QUOTE} [1]\n\n置信度：<strong title=…>高</strong> <small>同类问题中约 8 成首条引文含答案</small>\n\n"
    f"**来源**\n\n**《{TITLE}》**\n\n[1] 第 5 段\n…",
    "quotes": [
        {
            "rank": 1,
            "article_id": "004_cc6cff157fc3fbb6.txt",
            "title": TITLE,
            "paragraph": 5,
            "start": 489,
            "end": 596,
            "quote": QUOTE,
            "passage": f"担当作为、冲锋在前，发挥战斗堡垒作用和先锋模范作用\n　　“我志愿加入中国共产党，拥护党的纲领……”{QUOTE}",
            "score": 0.8215,
            "passage_start": 440,
            "passage_end": 596,
            "date": None,
            "source": None,
            "citation": f"《{TITLE}》，第5段：“{QUOTE}”",
        }
    ],
    "confidence": "高",
    "carried_terms": [],
    "answerable": 0.9032,
    "nearest": [],
    "answer_span": None,
}


class Filters(BaseModel):
    """Limits on where quotes may come from, as the chat's 筛选 panel and ``ask --article`` etc. set them."""

    model_config = ConfigDict(extra="forbid")

    article: str | None = Field(None, description="只看这篇文章（文件名或完整标题）", examples=["a.txt"])
    source: str | None = Field(None, description="只看这个来源（文章元数据 source）", examples=["人民日报"])
    since: str | None = Field(
        None, description="起始日期（含），2020、2020-02 或 2020-02-05", examples=["2020-01"]
    )
    until: str | None = Field(None, description="截止日期（含）", examples=["2020-02-29"])


class Turn(BaseModel):
    """One message of a chat history in Gradio's form; only the user's turns count."""

    role: str = Field(description="user 或 assistant", examples=["user"])
    content: str = Field(description="消息文本", examples=[QUESTION])


class AskRequest(BaseModel):
    """A question, with the conversation before it for a follow-up."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "火神山医院是哪家企业负责建设的？"},
                {"question": FOLLOW_UP, "history": [QUESTION]},
                {"question": "有多少名党员？", "filters": {"source": "人民日报", "since": "2020-01"}},
            ]
        },
    )

    question: str = Field(description="要问的问题（中文）", examples=[QUESTION])
    history: list[str | Turn] = Field(
        default_factory=list,
        description="本次对话中之前的提问，按时间先后；也可以是聊天消息 {role, content}（只取 user 的）",
        examples=[[QUESTION]],
    )
    filters: Filters | None = Field(None, description="可选的筛选条件")
    mode: Literal["hybrid", "bm25", "dense"] = Field("hybrid", description="检索方式，默认 hybrid")

    def user_turns(self) -> list[str]:
        """The earlier questions, oldest first."""
        turns = [
            t if isinstance(t, str) else t.content
            for t in self.history
            if isinstance(t, str) or t.role == "user"
        ]
        return [t.strip() for t in turns if t.strip()]


class QuoteReply(BaseModel):
    """One verbatim quote: ``quote`` is the article's text from ``start`` to ``end``."""

    model_config = ConfigDict(extra="allow")

    rank: int = Field(examples=[1])
    article_id: str = Field(description="文章文件名（相对语料库）", examples=["a.txt"])
    title: str = Field(examples=["建设雷神山"])
    paragraph: int = Field(description="第几段（从 1 起）", examples=[1])
    start: int
    end: int
    quote: str = Field(
        description="原文引文，逐字",
        examples=["1月28日下午，中建三局雷神山医院项目指挥部火速成立临时党委，并为党员突击队授旗。"],
    )
    passage: str
    score: float
    passage_start: int
    passage_end: int
    date: str | None = Field(None, examples=["2020-01-29"])
    source: str | None = Field(None, examples=["人民日报"])
    citation: str = Field(description="可直接复制的引用")


class AnswerSpanReply(BaseModel):
    """The words of the first quote that answer the question: the article's text from ``start`` to ``end``."""

    start: int = Field(description="在文章中的起始位置（字符）", examples=[2851])
    end: int = Field(description="在文章中的结束位置（不含）", examples=[2855])
    text: str = Field(description="原文中的答案，逐字", examples=["中建三局"])
    score: float = Field(description="答案正确的概率估计", examples=[0.81])


class AskReply(BaseModel):
    """Exactly what ``assistant ask --json`` prints."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [ASK_EXAMPLE]})

    question: str = Field(examples=[QUESTION])
    answered: bool = Field(description="是否给出了回答（false 表示文章里找不到答案）")
    answer: str = Field(description="给人看的 Markdown 回答")
    quotes: list[QuoteReply]
    confidence: str = Field(description="高 / 中 / 低 / 无", examples=["高"])
    carried_terms: list[str] = Field(description="追问时沿用的上文关键词", examples=[["雷神山", "临时党委"]])
    answerable: float = Field(description="可回答的概率估计", examples=[0.93])
    nearest: list[QuoteReply] = Field(
        default_factory=list,
        description="拒答时最接近的句子：未经确认，可能并不回答这个问题（回答时为空）",
    )
    answer_span: AnswerSpanReply | None = Field(
        None, description="首条引文中直接回答问题的原文片段；不够可靠时为 null"
    )


class Article(BaseModel):
    """One indexed article."""

    id: str = Field(description="文章文件名（相对语料库），删除时用它", examples=["2020/a.txt"])
    title: str = Field(examples=["建设雷神山"])
    date: str | None = Field(None, examples=["2020-01-29"])
    source: str | None = Field(None, examples=["人民日报"])
    url: str | None = None
    passages: int = Field(description="段落数", examples=[3])
    indexed_at: str = Field(description="索引时间", examples=["2026-11-30T21:00:00+00:00"])
    also_in: list[str] = Field(description="内容相同的其他文件", examples=[[]])


class ArticleList(BaseModel):
    """The live index's articles, sorted by id (one page of them with ``offset`` and ``limit``)."""

    count: int = Field(description="索引中的文章总数", examples=[1])
    articles: list[Article]


class PastedArticle(BaseModel):
    """A pasted article: its title and body text."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="标题", examples=["青岛港开通至非洲东海岸的集装箱直达航线"])
    body: str = Field(
        description="正文",
        examples=["　　本报青岛3月5日电　青岛港集团今天宣布，开通至肯尼亚蒙巴萨港的集装箱直达航线。"],
    )


class Saved(BaseModel):
    """An article saved into the corpus; it is answerable after an index update."""

    id: str = Field(description="保存后的文件名", examples=["青岛港开通至非洲东海岸的集装箱直达航线.txt"])
    message: str = Field(examples=["已加入。调用 POST /api/index/update 后即可提问。"])


class UpdateReply(BaseModel):
    """What an index update did."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int = Field(description="未变的文章数")
    skipped: list[str] = Field(description="跳过的文件及原因", examples=[["bad.txt: not a text file"]])
    articles: int
    passages: int
    embedded: int = Field(description="新向量化的文本段数")
    reused: int = Field(description="复用的向量数")
    seconds: float


class Deleted(BaseModel):
    """An article moved to ``corpus/.trash/`` and the index updated without it."""

    id: str = Field(examples=["a.txt"])
    trashed: str = Field(description="回收站里的位置（可恢复）", examples=[".trash/a.txt"])
    update: UpdateReply


class Restored(BaseModel):
    """An article moved back from the trash and the index updated with it."""

    id: str = Field(examples=["a.txt"])
    update: UpdateReply


class Trash(BaseModel):
    """Articles in ``corpus/.trash/``, as :class:`RestoreRequest` names them."""

    articles: list[str] = Field(examples=[["a.txt"]])


class RestoreRequest(BaseModel):
    """Which article to take back out of the trash."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="回收站里的文章（GET /api/trash 列出的名字）", examples=["a.txt"])


class ErrorReply(BaseModel):
    """Every error: a message a person can act on, never a traceback."""

    detail: str = Field(examples=["请输入一个问题（the question is empty）"])
