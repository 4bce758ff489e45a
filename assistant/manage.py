"""Corpus management for the web UI: the administrator's actions, each checked on the server.

Plain functions and one class over :class:`assistant.service.Assistant`, no
Gradio (but for finding Gradio's upload folder), so every action and every
refusal is testable without a browser. :mod:`assistant.app` wires them to
buttons; :mod:`assistant.access` decides who is an administrator.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from assistant.access import AdminGate
from assistant.answer import md_escape
from assistant.config import Settings
from assistant.corpus import (
    ARTICLE_SUFFIXES,
    add_file,
    add_text,
    article_paths,
    remove_article,
    restore_article,
)
from assistant.corpus.readers import file_limit
from assistant.errors import AssistantError, CorpusError
from assistant.service import Assistant

# One request saves at most this many files: each is read, decoded and written under the request.
MAX_UPLOADS = 20
# An export with thousands of malformed lines would bury the page: the reasons shown are capped.
MAX_REASONS = 50
ADMIN_REQUIRED = "需要管理员权限：请先在「语料库」页输入管理员密码登录。"


def public_message(text: str, settings: Settings) -> str:
    """``text`` with the server's corpus and index folders named ``corpus`` and ``index``.

    Messages from deeper layers name files by absolute path; a web visitor
    learns nothing from the server's layout, so the UI shows them relative.
    """
    forms = []
    for folder, label in ((settings.corpus_dir, "corpus"), (settings.index_dir, "index")):
        forms += [(str(folder.resolve()), label), (str(folder.absolute()), label)]
    for form, label in sorted(set(forms), key=lambda item: -len(item[0])):
        text = text.replace(form, label)
    return text


def discard_upload(path: Path) -> None:
    """Delete a file Gradio stored for an upload, and its folder when that is left empty.

    Only files inside Gradio's upload folder are touched: a path that names
    anything else (sent by a raw API call, say) is left alone.
    """
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder()).resolve()
    resolved = path.resolve()
    if root not in resolved.parents:
        return
    resolved.unlink(missing_ok=True)
    if resolved.parent != root:
        with contextlib.suppress(OSError):  # not empty: another upload shares the folder
            resolved.parent.rmdir()


def _upload_path(item: Any) -> Path:
    if isinstance(item, dict):
        item = item.get("path") or ""
    return Path(item if isinstance(item, str) else getattr(item, "name", str(item)))


def run_update(assistant: Assistant, progress: Any = None) -> str:
    """Update the index from the corpus; questions keep using the old one until it is done."""

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done / max(total, 1), desc=f"向量化 {done}/{total}")

    try:
        r = assistant.update(progress=report)
    except AssistantError as exc:
        return f"更新失败：{md_escape(public_message(str(exc), assistant.settings))}"
    skipped = r.skipped + r.duplicates
    lines = [
        f"索引已更新：新增 {len(r.added)} 篇，修改 {len(r.changed)} 篇，删除 {len(r.removed)} 篇，"
        f"未变 {len(r.unchanged)} 篇，跳过 {len(skipped)} 篇；"
        f"现有 {r.articles} 篇文章、{r.passages} 个段落（新向量化 {r.embedded} 段文本，"
        f"复用 {r.reused} 段），用时 {r.seconds:.1f} 秒。"
    ]
    lines += [
        f"- 跳过：{md_escape(public_message(reason, assistant.settings))}" for reason in skipped[:MAX_REASONS]
    ]
    if len(skipped) > MAX_REASONS:
        lines.append(f"- ……另有 {len(skipped) - MAX_REASONS} 条跳过（`assistant index update` 列出全部）")
    return "\n".join(lines)


class CorpusManager:
    """The Corpus tab's actions. Each checks the administrator's token first, on the server.

    The UI only shows the management panel after a login, but that is
    convenience: a raw HTTP call to any of these handlers without a valid
    token changes nothing and gets :data:`ADMIN_REQUIRED`.

    Args:
        assistant: the live assistant (its settings name the corpus and the limits).
        gate: checks the password and the tokens a login hands out.
    """

    def __init__(self, assistant: Assistant, gate: AdminGate) -> None:
        self.assistant = assistant
        self.gate = gate
        self.corpus = assistant.settings.corpus_dir

    def login(self, password: str | None) -> tuple[str, str]:
        """(message, token): a token for the right password, else an empty one."""
        token = self.gate.login(password)
        if token is None:
            return "密码不对。", ""
        return "已登录为管理员。", token

    def logout(self, token: str | None) -> tuple[str, str]:
        """(message, empty token): the token stops working at once."""
        self.gate.logout(token)
        return "已退出管理。", ""

    def upload(self, token: str | None, files: list[Any] | None) -> str:
        """Save uploaded files into the corpus; say which were refused and why.

        Gradio's copies are deleted whatever happens, so a refused upload
        leaves nothing behind in its temp folder.
        """
        paths = [_upload_path(item) for item in files or []]
        try:
            if not self.gate.check(token):
                return ADMIN_REQUIRED
            if not paths:
                return f"请先选择要上传的文件（{' / '.join(ARTICLE_SUFFIXES)}）。"
            if len(paths) > MAX_UPLOADS:
                return f"一次最多保存 {MAX_UPLOADS} 个文件，这次有 {len(paths)} 个：请分批上传。"
            lines = [md_escape(public_message(self._save(path), self.assistant.settings)) for path in paths]
            return "\n\n".join(lines) + "\n\n点击「更新索引」后即可提问。"
        finally:
            for path in paths:
                discard_upload(path)

    def _save(self, path: Path) -> str:
        settings = self.assistant.settings
        limit = file_limit(path.suffix, settings.max_file_bytes)
        try:
            size = path.stat().st_size
            if size > limit:  # before reading it: the limit bounds memory too
                return f"未加入：{path.name}: {size / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB limit"
            saved = add_file(
                self.corpus,
                path.name,
                path.read_bytes(),
                max_bytes=settings.max_file_bytes,
                fields=settings.record_fields,
            )
        except AssistantError as exc:
            return f"未加入：{exc}"
        except OSError as exc:
            return f"未加入：{path.name}: {exc.strerror}"
        return f"已加入：{saved.relative_to(self.corpus).as_posix()}"

    def _failed(self, what: str, exc: AssistantError | OSError) -> str:
        """The message for a refused action: our error without server paths, or the OS's reason."""
        if isinstance(exc, AssistantError):
            return f"{what}：{md_escape(public_message(str(exc), self.assistant.settings))}"
        return f"{what}：{exc.strerror}"

    def paste(self, token: str | None, title: str | None, body: str | None) -> tuple[str, bool]:
        """(message, saved): save a pasted article into the corpus (refused unwritten when over the
        size limit); ``saved`` tells the page it may clear what was pasted."""
        if not self.gate.check(token):
            return ADMIN_REQUIRED, False
        try:
            saved = add_text(
                self.corpus, title or "", body or "", max_bytes=self.assistant.settings.max_file_bytes
            )
        except (AssistantError, OSError) as exc:
            return self._failed("未加入", exc), False
        name = md_escape(saved.relative_to(self.corpus).as_posix())
        return f"已加入：{name}\n\n点击「更新索引」后即可提问。", True

    def update(self, token: str | None, progress: Any = None) -> str:
        """Update the index from the corpus."""
        if not self.gate.check(token):
            return ADMIN_REQUIRED
        return run_update(self.assistant, progress)

    def deletable(self) -> list[str]:
        """Every article file in the corpus, indexed or not: one the indexer skips must be removable too."""
        # A record of an export is deleted with its file.
        indexed = {
            a[: -len(meta.record) - 1] if meta.record else a
            for a, meta in self.assistant.index.articles.items()
        }
        try:
            on_disk = {p.relative_to(self.corpus).as_posix() for p in article_paths(self.corpus)}
        except CorpusError:  # no corpus folder: nothing on disk to offer
            on_disk = set()
        return sorted(indexed | on_disk)

    def delete(self, token: str | None, article_id: str | None, confirmed: bool, progress: Any = None) -> str:
        """Move a chosen, confirmed article to corpus/.trash/ and update the index."""
        if not self.gate.check(token):
            return ADMIN_REQUIRED
        if not article_id:
            return "请先选择要删除的文章。"
        if not confirmed:
            return f"请先勾选「确认删除 {md_escape(article_id)}」，再点删除。"
        try:
            moved = remove_article(self.corpus, article_id)
        except (AssistantError, OSError) as exc:
            return self._failed("删除失败", exc)
        where = md_escape(moved.relative_to(self.corpus).as_posix())
        return f"已把 {md_escape(article_id)} 移到回收站 {where}（可在下方恢复）。\n\n" + run_update(
            self.assistant, progress
        )

    def restore(self, token: str | None, trashed: str | None, progress: Any = None) -> str:
        """Move an article back from corpus/.trash/ (never over an existing file) and update the index."""
        if not self.gate.check(token):
            return ADMIN_REQUIRED
        if not trashed:
            return "请先选择要恢复的文章。"
        try:
            restored = restore_article(self.corpus, trashed)
        except (AssistantError, OSError) as exc:
            return self._failed("恢复失败", exc)
        name = md_escape(restored.relative_to(self.corpus).as_posix())
        return f"已恢复：{name}\n\n" + run_update(self.assistant, progress)
