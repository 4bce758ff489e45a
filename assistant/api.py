"""The JSON API beside the chat, on the same server: ask, list articles, manage the corpus.

:func:`build_api` makes the FastAPI app that :func:`assistant.app.serve` mounts the
Gradio page on, so one port, one ``HostGuard`` and one ``AdminGate`` serve both:

* ``POST /api/ask`` replies with exactly what ``assistant ask --json`` prints;
* ``GET /api/articles`` lists the indexed articles;
* adding, deleting, restoring and re-indexing articles need
  ``Authorization: Bearer <ASSISTANT_ADMIN_PASSWORD>``, the Corpus tab's password, and
  are refused (403) when that is unset, as the page then offers no management;
* every error is ``{"detail": "…"}`` with its HTTP status, never a traceback or a server path.

The OpenAPI page is ``/api/docs`` (its schema ``/api/openapi.json``), clear of Gradio's routes.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline

from assistant.access import ADMIN_PASSWORD_ENV, AdminGate
from assistant.api_models import (
    Article,
    ArticleList,
    AskReply,
    AskRequest,
    Deleted,
    ErrorReply,
    PastedArticle,
    Restored,
    RestoreRequest,
    Saved,
    Trash,
    UpdateReply,
)
from assistant.config import Settings
from assistant.corpus import add_file, add_text, remove_article, restore_article, trashed_articles
from assistant.corpus.readers import file_limit
from assistant.errors import (
    AssistantError,
    IndexBusy,
    IndexCorrupt,
    IndexMismatch,
    IndexNotFound,
    IndexWriteError,
    ModelError,
    StoreUnavailable,
)
from assistant.indexing import BuildReport
from assistant.manage import public_message
from assistant.manifest import ArticleRecord
from assistant.retrieval import Filter
from assistant.service import Assistant

DOCS_URL = "/api/docs"
OPENAPI_URL = "/api/openapi.json"
SAVED_NOTE = "已加入。调用 POST /api/index/update 更新索引后即可提问。"
READ_ONLY = f"语料库管理未开启：服务器启动时未设置 {ADMIN_PASSWORD_ENV}，此服务器只提供问答。"
CREDENTIAL_NEEDED = "需要管理员权限：请在请求头加上 Authorization: Bearer <管理员密码>。"
WRONG_CREDENTIAL = "管理员密码不对。"
INTERNAL = "服务器内部错误，详情见服务器日志。"
# Module-level: FastAPI reads the routes' annotations (strings here) in this module's namespace.
BEARER = HTTPBearer(auto_error=False, description="管理员密码（ASSISTANT_ADMIN_PASSWORD）")
# Index states a caller can only wait out or have the operator fix.
UNAVAILABLE = (IndexNotFound, IndexCorrupt, IndexMismatch, ModelError, StoreUnavailable)

DESCRIPTION = """新闻问答的 HTTP 接口：提问得到逐字引用原文、标明出处的回答。

- `POST /api/ask` 的回复与 `assistant ask --json` 打印的对象完全相同。
- 修改语料库的接口需要管理员密码（与网页「语料库」页相同）：
  请求头 `Authorization: Bearer <ASSISTANT_ADMIN_PASSWORD>`。服务器未设置该密码时一律拒绝（403）。
- 出错时回复 `{"detail": "…"}` 和相应的 HTTP 状态码。
"""


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The OpenAPI ``responses`` entry for these error statuses."""
    return {status: {"model": ErrorReply} for status in statuses}


def build_api(assistant: Assistant, gate: AdminGate | None, concurrent_answers: int) -> FastAPI:
    """The FastAPI app with the API's routes, error handlers and OpenAPI page.

    Args:
        assistant: the live assistant.
        gate: the administrator's password check, or None when management is off.
        concurrent_answers: questions answered at once (the chat's own limit); more wait their turn.
    """
    settings = assistant.settings
    answering = anyio.CapacityLimiter(concurrent_answers)
    # Swagger UI's script and styles come from the fastapi-offline wheel, not a CDN: a newsroom
    # LAN without internet still gets the page.
    api = FastAPIOffline(
        title="新闻问答 API",
        description=DESCRIPTION,
        version="1",
        docs_url=DOCS_URL,
        openapi_url=OPENAPI_URL,
        redoc_url=None,
        static_url=f"{DOCS_URL}/assets",
        swagger_ui_oauth2_redirect_url=f"{DOCS_URL}/oauth2-redirect",
    )

    def fail(exc: AssistantError | OSError, status: int) -> HTTPException:
        """An HTTP error saying what went wrong, with the server's folders named ``corpus`` and ``index``."""
        if isinstance(exc, OSError):
            return HTTPException(status, exc.strerror or "文件操作失败")
        return HTTPException(status, public_message(str(exc), settings))

    def corpus_id(path: Path) -> str:
        """A saved, trashed or restored file's name as the corpus and this API call it."""
        return path.relative_to(settings.corpus_dir).as_posix()

    # Passwords are checked one at a time (a wrong one takes a second); requests wait their turn
    # here, not in worker threads, so a flood of guesses cannot hold the threads questions run on.
    checking = anyio.CapacityLimiter(1)

    async def admin(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]) -> None:
        if gate is None:
            raise HTTPException(403, READ_ONLY)
        if credentials is None:
            raise HTTPException(401, CREDENTIAL_NEEDED, headers={"WWW-Authenticate": "Bearer"})
        if not await anyio.to_thread.run_sync(gate.verify, credentials.credentials, limiter=checking):
            raise HTTPException(401, WRONG_CREDENTIAL, headers={"WWW-Authenticate": "Bearer"})

    def updated(done: str = "") -> UpdateReply:
        """Update the index; ``done`` says what already happened, in case the update fails."""
        try:
            report = assistant.update()
        except AssistantError as exc:
            error = fail(exc, status_of(exc))
            raise HTTPException(error.status_code, f"{done}索引更新失败：{error.detail}") from exc
        return update_reply(report, settings)

    @api.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": f"请求格式不对：{validation_message(exc)}"}, status_code=400)

    @api.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # The server's log still gets the traceback (uvicorn logs what this handler answered for).
        return JSONResponse({"detail": INTERNAL}, status_code=500)

    @api.post(
        "/api/ask",
        summary="提问",
        response_model=None,
        responses={200: {"model": AskReply}, **errors(400, 503)},
        tags=["问答"],
    )
    async def ask(request: AskRequest) -> JSONResponse:
        """回答一个问题，引用文章原文；`history` 给出之前的提问时可以追问。"""
        try:
            where = Filter(**request.filters.model_dump()) if request.filters else None
            answer = await anyio.to_thread.run_sync(
                partial(assistant.ask, request.question, request.user_turns(), request.mode, where),
                limiter=answering,
            )
        except AssistantError as exc:  # an empty or too long question, an impossible filter: 400
            raise fail(exc, status_of(exc)) from exc
        return JSONResponse(answer.to_json())

    @api.get("/api/articles", summary="已索引的文章", response_model=ArticleList, tags=["文章"])
    def articles(
        offset: Annotated[int, Query(ge=0, description="跳过前几篇")] = 0,
        limit: Annotated[int | None, Query(ge=1, description="最多列出几篇（不填则全部）")] = None,
    ) -> ArticleList:
        """列出当前索引中的文章，按 id 排序；文章多时可用 offset 和 limit 分页，count 是总数。"""
        try:
            indexed = assistant.index.articles
        except AssistantError as exc:
            raise fail(exc, status_of(exc)) from exc
        ids = sorted(indexed)[offset : None if limit is None else offset + limit]
        return ArticleList(count=len(indexed), articles=[article(i, indexed[i]) for i in ids])

    managed = {"dependencies": [Depends(admin)], "tags": ["语料库管理（需管理员密码）"]}

    @api.post(
        "/api/articles",
        summary="粘贴一篇文章",
        status_code=201,
        response_model=Saved,
        responses=errors(400, 401, 403, 413, 500),
        **managed,
    )
    def paste(pasted: PastedArticle) -> Saved:
        """把标题和正文存为语料库里的一篇文章；更新索引后即可提问。"""
        limit = settings.max_file_bytes
        if len(pasted.body.encode("utf-8")) > limit:
            raise HTTPException(
                413, f"the pasted text is over the {limit / 2**20:.0f} MB limit for one article"
            )
        try:
            saved = add_text(settings.corpus_dir, pasted.title, pasted.body, max_bytes=limit)
        except AssistantError as exc:
            raise fail(exc, status_of(exc)) from exc
        return Saved(id=corpus_id(saved), message=SAVED_NOTE)

    @api.post(
        "/api/articles/upload",
        summary="上传一个文章文件",
        status_code=201,
        response_model=Saved,
        responses=errors(400, 401, 403, 413, 500),
        **managed,
    )
    async def upload(file: Annotated[UploadFile, File(description="文章文件")]) -> Saved:
        """上传一个文章文件（保存原始字节）；更新索引后即可提问。"""
        name = file.filename or "article.txt"
        # A PDF, Word file or export may be larger than a text article, as in the Corpus tab.
        limit = file_limit(Path(name).suffix, settings.max_file_bytes)
        data = await file.read(limit + 1)  # the limit bounds memory too
        if len(data) > limit:
            raise HTTPException(413, f"{name}: over the {limit / 2**20:.0f} MB limit for this kind of file")
        try:
            # In a worker thread: reading a large PDF takes seconds, which would stall every
            # other request (questions, the chat page) on the event loop.
            saved = await anyio.to_thread.run_sync(
                partial(
                    add_file,
                    settings.corpus_dir,
                    name,
                    data,
                    max_bytes=settings.max_file_bytes,
                    fields=settings.record_fields,
                )
            )
        except AssistantError as exc:
            raise fail(exc, status_of(exc)) from exc
        return Saved(id=corpus_id(saved), message=SAVED_NOTE)

    @api.delete(
        "/api/articles/{article_id:path}",
        summary="删除一篇文章",
        response_model=Deleted,
        responses=errors(400, 401, 403, 404, 409, 500),
        **managed,
    )
    def delete(article_id: str, confirm: bool = False) -> Deleted:
        """把文章移到回收站 corpus/.trash/（可恢复）并更新索引。必须带 `confirm=true`，如同网页上的确认勾选。"""
        if not confirm:
            raise HTTPException(400, f"删除 {article_id} 需要确认：请加上参数 confirm=true。")
        try:
            moved = remove_article(settings.corpus_dir, article_id)
        except (AssistantError, OSError) as exc:
            raise fail(exc, 404 if missing(exc) else 500) from exc
        trashed = corpus_id(moved)
        update = updated(f"已把 {article_id} 移到回收站 {trashed}，但")
        return Deleted(id=article_id, trashed=trashed, update=update)

    @api.get("/api/trash", summary="回收站", response_model=Trash, responses=errors(401, 403), **managed)
    def trash() -> Trash:
        """列出回收站里可以恢复的文章。"""
        return Trash(articles=trashed_articles(settings.corpus_dir))

    @api.post(
        "/api/trash/restore",
        summary="恢复一篇文章",
        response_model=Restored,
        responses=errors(400, 401, 403, 404, 409, 500),
        **managed,
    )
    def restore(request: RestoreRequest) -> Restored:
        """把文章从回收站移回原处（从不覆盖同名文件）并更新索引。"""
        try:
            restored = restore_article(settings.corpus_dir, request.name)
        except (AssistantError, OSError) as exc:
            raise fail(exc, 404 if missing(exc) else 500) from exc
        restored_id = corpus_id(restored)
        return Restored(id=restored_id, update=updated(f"已恢复 {restored_id}，但"))

    @api.post(
        "/api/index/update",
        summary="更新索引",
        response_model=UpdateReply,
        responses=errors(401, 403, 409, 500, 503),
        **managed,
    )
    def update() -> UpdateReply:
        """索引新增和修改的文章、去掉删除的文章；提问照常进行，完成后切换到新索引。另一次更新进行中时回复 409。"""
        return updated()

    return api


def status_of(exc: AssistantError) -> int:
    """The HTTP status of a domain error: the caller's mistake (400) unless the server is at fault."""
    if isinstance(exc, IndexBusy):
        return 409
    if isinstance(exc, UNAVAILABLE):
        return 503
    # A write that failed (disk full, read-only) is the server's fault, not the request's.
    return 500 if isinstance(exc, IndexWriteError) or isinstance(exc.__cause__, OSError) else 400


def missing(exc: AssistantError | OSError) -> bool:
    """Whether a delete or restore failed because the article is not there (not because of the disk)."""
    return isinstance(exc, AssistantError) and not isinstance(exc.__cause__, OSError)


def article(article_id: str, meta: ArticleRecord) -> Article:
    """The listing of one indexed article from its manifest entry."""
    return Article(
        id=article_id,
        title=meta.title,
        date=meta.date or None,
        source=meta.source or None,
        url=meta.url or None,
        passages=meta.passages,
        indexed_at=meta.indexed_at,
        also_in=list(meta.also_in),
    )


def update_reply(report: BuildReport, settings: Settings) -> UpdateReply:
    """An update's report as the API shows it, skipped files named without server paths."""
    return UpdateReply(
        added=report.added,
        changed=report.changed,
        removed=report.removed,
        unchanged=len(report.unchanged),
        skipped=[public_message(reason, settings) for reason in report.skipped + report.duplicates],
        articles=report.articles,
        passages=report.passages,
        embedded=report.embedded,
        reused=report.reused,
        seconds=round(report.seconds, 3),
    )


def validation_message(exc: RequestValidationError) -> str:
    """FastAPI's validation errors as one line: ``body.question: Field required; …``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
