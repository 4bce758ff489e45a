"""Command line: ``assistant index build|update|info``, ``import``, ``ask``, ``serve``, ``eval``,
``feedback``.

Domain errors become ``click.ClickException`` here and nowhere else, so users
see one clear line instead of a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assistant import runtime
from assistant.config import Settings
from assistant.errors import AssistantError

if TYPE_CHECKING:
    import socket

    from assistant.service import Assistant


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--corpus``, ``--index``, ``--model``, ``--store`` and ``--fields`` on every command, turned into Settings."""

    @click.option(
        "--corpus",
        "corpus_dir",
        type=click.Path(path_type=Path),
        help="Article folder [ASSISTANT_CORPUS, corpus/]",
    )
    @click.option(
        "--index", "index_dir", type=click.Path(path_type=Path), help="Index folder [ASSISTANT_INDEX, index/]"
    )
    @click.option(
        "--model", help="sentence-transformers model id or folder [ASSISTANT_MODEL, bundled e5-small]"
    )
    @click.option(
        "--store",
        help="Passage store: faiss, milvus://PATH.db (Milvus Lite) or http://HOST:19530 [ASSISTANT_STORE, faiss]",
    )
    @click.option(
        "--fields",
        "record_fields",
        help="JSONL/CSV export column names, e.g. body=正文,title=headline [ASSISTANT_RECORD_FIELDS]",
    )
    @functools.wraps(func)
    def wrapper(
        corpus_dir: Path | None,
        index_dir: Path | None,
        model: str | None,
        store: str | None,
        record_fields: str | None,
        **kwargs: Any,
    ) -> Any:
        from assistant.stores import store_problem

        settings = Settings.from_env(
            corpus_dir=corpus_dir, index_dir=index_dir, model=model, store=store, record_fields=record_fields
        )
        problem = store_problem(settings.store)
        if problem:
            raise click.UsageError(f"{problem} (--store / ASSISTANT_STORE)")
        try:
            return func(settings, **kwargs)
        except AssistantError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


# Commands that embed in bulk run on every core; the rest answer questions (assistant.runtime).
BUILD_COMMANDS = ("index", "eval", "import")


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log progress and timings.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """新闻问答: ask questions about Chinese news articles, get cited verbatim quotes."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    runtime.configure("build" if ctx.invoked_subcommand in BUILD_COMMANDS else "serve")


@main.group()
def index() -> None:
    """Build and inspect the index."""


@index.command("build")
@click.option("--full", is_flag=True, help="Re-chunk and re-embed everything instead of updating.")
@common_options
def index_build(settings: Settings, full: bool) -> None:
    """Build the index from the corpus folder (an update unless --full).

    \b
    assistant index build
    assistant index build --full --corpus my-articles/ --index my-index/
    """
    run_update(settings, full)


def parse_shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """``I/N`` (0 ≤ I < N) as a pair."""
    if value is None:
        return None
    shard, _, shards = value.partition("/")
    if not (shard.isdigit() and shards.isdigit() and int(shard) < int(shards)):
        raise click.BadParameter(f"{value!r} is not I/N with 0 ≤ I < N, e.g. 0/4")
    return int(shard), int(shards)


@index.command("update")
@click.option(
    "--shard",
    callback=parse_shard,
    metavar="I/N",
    help="Only embed, into the shared cache, the texts of shard I of N (0-based); a final "
    "`index update` without --shard then builds the index without embedding again.",
)
@common_options
def index_update(settings: Settings, shard: tuple[int, int] | None) -> None:
    """Index added and changed articles, drop removed ones; embed nothing unchanged.

    \b
    assistant index update
    assistant index update --corpus my-articles/
    assistant index update --shard 0/2 & assistant index update --shard 1/2; wait
    assistant index update
    """
    if shard is None:
        run_update(settings, full=False)
        return
    from assistant.indexing import embed_shard
    from assistant.service import make_embedder

    report = embed_shard(settings, make_embedder(settings), *shard, show_progress=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"shard {shard[0]}/{shard[1]}: embedded {report.embedded} text(s) into the cache in {report.seconds} s; "
        "run `assistant index update` once every shard is done"
    )


def run_update(settings: Settings, full: bool) -> None:
    from assistant.indexing import update_index
    from assistant.service import make_embedder

    report = update_index(settings, make_embedder(settings), full=full, show_progress=True)
    for label, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        for article_id in ids:
            click.echo(f"{label:>9}: {article_id}")
    for reason in report.skipped + report.duplicates:
        click.echo(f"  skipped: {reason}", err=True)
    for warning in report.warnings:
        click.echo(f"  warning: {warning}", err=True)
    click.echo(report.summary())
    click.echo(f"time: {report.timing()}")
    click.echo(f"index: {report.folder}")
    if not report.articles:
        click.echo(f"no readable articles in {settings.corpus_dir}: every question will be refused", err=True)


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@common_options
def import_command(settings: Settings, paths: tuple[Path, ...]) -> None:
    """Copy article files and folders into the corpus folder, then update the index.

    Reads .txt, .md, .pdf, .docx, and .jsonl/.csv exports (one article per record).
    Nothing in the corpus is overwritten, and files already there are not copied
    again, so an interrupted import is resumed by running it again.

    \b
    assistant import ~/archive/2024/
    assistant import report.pdf draft.docx export.jsonl --fields body=正文
    """
    from assistant.corpus.bulk import import_files

    result = import_files(paths, settings.corpus_dir, show_progress=True, index=settings.index_dir)
    for name in result.copied:
        click.echo(f"   copied: {name}")
    for reason in result.skipped:
        click.echo(f"  skipped: {reason}", err=True)
    click.echo(
        f"{len(result.copied)} files copied into {settings.corpus_dir}, {len(result.present)} already there, "
        f"{len(result.skipped)} left out"
    )
    run_update(settings, full=False)


@index.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
@common_options
def index_info(settings: Settings, as_json: bool) -> None:
    """Show the model, counts, size and build time of the index.

    \b
    assistant index info
    assistant index info --json
    """
    from assistant.store import current_generation, read_manifest

    manifest = read_manifest(settings.index_dir)
    folder = current_generation(settings.index_dir)
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    store = manifest.extra.get("faiss") if manifest.store is None else manifest.store  # format 3: "faiss"
    info = {
        "index": str(folder),
        "model": manifest.model,
        "dimension": manifest.dimension,
        "articles": manifest.counts.articles,
        "passages": manifest.counts.passages,
        "bytes": size,
        "built_at": manifest.built_at,
        "build_seconds": manifest.build_seconds,
        "store": store,
        "chunking": manifest.chunking,
        "skipped": list(manifest.skipped),
    }
    if as_json:
        emit_json(info)
        return
    for key, value in info.items():
        click.echo(f"{key:>14}: {value}")
    for article_id, meta in manifest.articles.items():
        click.echo(f"  {article_id}  《{meta.title}》 {meta.passages} passages")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the answer as the chat's markdown (with its HTML) instead of text.",
)
@click.option(
    "--mode", type=click.Choice(["hybrid", "bm25", "dense"]), default="hybrid", help="Retrieval to use."
)
@click.option(
    "--after",
    "history",
    multiple=True,
    help="An earlier question of the conversation (repeat, oldest first), for a follow-up.",
)
@click.option("--article", help="Only this article (file name or exact title).")
@click.option("--source", help="Only articles from this source (front matter `source`).")
@click.option("--since", help="Only articles dated on or after this (2020, 2020-02, 2020-02-05).")
@click.option("--until", help="Only articles dated on or before this.")
@click.option(
    "--server",
    metavar="URL",
    help="Ask a running `assistant serve` (e.g. http://127.0.0.1:7860) instead of loading the model here.",
)
@common_options
def ask(
    settings: Settings,
    question: str,
    as_json: bool,
    markdown: bool,
    mode: str,
    history: tuple[str, ...],
    article: str | None,
    source: str | None,
    since: str | None,
    until: str | None,
    server: str | None,
) -> None:
    """Answer one question with quotes from the articles.

    \b
    assistant ask "火神山医院是哪家企业负责建设的？"
    assistant ask "火神山医院是哪家企业负责建设的？" --json
    assistant ask "他们在仪式上做了什么？" --after "雷神山医院项目指挥部成立了什么组织？"
    assistant ask "有多少名党员？" --source 人民日报 --since 2020-01 --until 2020-02
    assistant ask "火神山医院是哪家企业负责建设的？" --server http://127.0.0.1:7860
    """
    if server:
        from assistant.client import ask_server

        filters = {"article": article, "source": source, "since": since, "until": until}
        reply = ask_server(server, question, list(history), mode, filters)
    else:
        from assistant.retrieval import Filter
        from assistant.service import Assistant

        where = Filter(article=article, source=source, since=since, until=until)
        answer = Assistant(settings).ask(question, history=list(history), mode=mode, where=where)  # type: ignore[arg-type]
        reply = answer.to_json()
    if as_json:
        emit_json(reply)
    elif markdown:
        click.echo(reply["answer"])
    else:
        from assistant.terminal_view import render_reply

        click.echo(render_reply(reply))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7860, show_default=True, type=int)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A host name clients may use besides loopback and --host (repeat) [ASSISTANT_ALLOWED_HOSTS].",
)
@click.option(
    "--feedback",
    type=click.Choice(["on", "off"]),
    default="off",
    show_default=True,
    help="Show 👍/👎 on answers and record the votes in <index>/feedback.jsonl (see `assistant feedback`).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes on the port (one per core answers fastest); a client's connections "
    "all reach the same one, chosen by its IPv4 address. Linux only.",
)
@common_options
def serve(
    settings: Settings, host: str, port: int, allowed_hosts: tuple[str, ...], feedback: str, workers: int
) -> None:
    """Start the web chat (builds the index first if there is none).

    Anyone who reaches it may ask; corpus management needs ASSISTANT_ADMIN_PASSWORD.

    \b
    assistant serve
    assistant serve --port 8080 --corpus my-articles/
    assistant serve --workers 2          # one process per core
    ASSISTANT_ADMIN_PASSWORD=… assistant serve --host 0.0.0.0 --allowed-host news.lan
    """
    runtime.configure_server()  # before Gradio is imported: it reads these once
    if workers == 1:
        start_server(settings, host, port, allowed_hosts, feedback == "on", None, build_if_missing=True)
        return
    from assistant.workers import in_child, run_workers, steered_sockets

    sockets = steered_sockets(host, port, workers)  # first: a taken port fails before any work
    # The index is built (if missing) in a child, so that this process forks the workers with no
    # engine or thread started.
    in_child(lambda: start_assistant(settings, build_if_missing=True))
    click.echo(f"serving on http://{host}:{port} with {workers} workers")
    run_workers(
        sockets,
        lambda sock: start_server(
            settings, host, port, allowed_hosts, feedback == "on", sock, build_if_missing=False
        ),
    )


def start_server(
    settings: Settings,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...],
    feedback: bool,
    sock: socket.socket | None,
    build_if_missing: bool,
) -> None:
    """Load the assistant and serve until stopped, on ``sock`` when a worker is given one."""
    from assistant.app import serve as serve_app

    assistant = start_assistant(settings, build_if_missing)
    if sock is None:
        click.echo(f"serving on http://{host}:{port}")
    serve_app(assistant, host, port, allowed=allowed_hosts, feedback=feedback, sock=sock)


def start_assistant(settings: Settings, build_if_missing: bool) -> Assistant:
    """The assistant over the index, which is built first from the corpus when missing and asked."""
    from assistant.service import Assistant

    return Assistant(settings, build_if_missing=build_if_missing)


@main.command("feedback")
@click.option(
    "--export",
    "export_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the votes that say what the right reply is as natural-question eval cases (JSONL).",
)
@common_options
def feedback_command(settings: Settings, export_to: Path | None) -> None:
    """Print readers' votes (`serve --feedback on`), or export them as test cases.

    \b
    assistant feedback
    assistant feedback --export feedback-cases.jsonl
    assistant eval --dataset feedback-cases.jsonl --corpus corpus/
    """
    from assistant.feedback import (
        article_finder,
        article_texts,
        export_cases,
        feedback_path,
        read_votes,
        summary_lines,
    )

    path = feedback_path(settings.index_dir)
    read = read_votes(path)
    if read.bad_lines:
        click.echo(f"warning: {read.bad_lines} unreadable line(s) in {path} skipped", err=True)
    if export_to is None:
        if not read.votes:
            click.echo(f"no votes in {path} (start the chat with `assistant serve --feedback on`)")
        for line in summary_lines(read.votes):
            click.echo(line)
        return
    from assistant.store import load_index

    index = load_index(settings.index_dir)
    export = export_cases(read.votes, article_finder(article_texts(index.passages)))
    try:
        with open(export_to, "w", encoding="utf-8") as handle:
            for case in export.cases:
                handle.write(json.dumps(case, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise click.ClickException(f"cannot write {export_to}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {len(export.cases)} case(s) to {export_to}")
    for vote, why in export.skipped:
        click.echo(f"skipped 「{vote.get('question', '')}」: {why}")


@main.command("eval")
@click.option(
    "--dataset",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="SQuAD-format JSON (e.g. ../shared/datasets/cmrc2018/cmrc2018_trial.json), or natural "
    "questions: a folder with questions.jsonl and articles/ (e.g. ../shared/datasets/natural-news), "
    "or such a JSONL with --corpus",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("--limit", type=int, help="Only the first N questions.")
@click.option(
    "--keep-index",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the evaluation index here; its vectors are reused by the next run.",
)
@click.option(
    "--dump-candidates",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every candidate quote's features here, for bench/tune_quotes.py.",
)
@common_options
def eval_command(
    settings: Settings,
    dataset: Path,
    as_json: bool,
    limit: int | None,
    keep_index: Path | None,
    dump_candidates: Path | None,
) -> None:
    """Measure retrieval and quoting on a SQuAD-format or natural-question dataset.

    \b
    assistant eval --dataset ../shared/datasets/cmrc2018/cmrc2018_trial.json
    assistant eval --dataset data.json --json --limit 100
    assistant eval --dataset ../shared/datasets/natural-news
    assistant eval --dataset my-questions.jsonl --corpus my-articles/ --json
    """
    from assistant.service import make_embedder

    if dataset.is_dir() or dataset.suffix.lower() == ".jsonl":
        from assistant.eval_natural import evaluate_natural

        given = click.get_current_context().get_parameter_source("corpus_dir")
        corpus = settings.corpus_dir if given == click.core.ParameterSource.COMMANDLINE else None
        result = evaluate_natural(
            dataset, make_embedder(settings), settings, corpus, keep_index, limit, dump_candidates
        )
        if as_json:
            emit_json(result)
        else:
            print_natural(result)
        return
    from assistant.evaluate import METRICS, evaluate

    result = evaluate(
        dataset, make_embedder(settings), settings, index_dir=keep_index, limit=limit, dump=dump_candidates
    )
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['questions']} questions, model {settings.model}")
    click.echo(f"{'':8}" + "".join(f"{m:>19}" for m in METRICS))
    for mode in ("hybrid", "bm25", "dense"):
        click.echo(f"{mode:8}" + "".join(f"{result[mode][m]:>19.4f}" for m in METRICS))
    s = result["span"]
    click.echo(
        f"answer span (hybrid): shown for {s['shown']} of {s['answered']} answered ({s['shown_share']:.3f}); "
        f"over the shown, exact match {s['exact_match']:.3f}, F1 {s['f1']:.3f}"
    )


def print_natural(result: dict[str, Any]) -> None:
    """The natural-question figures as a table, one style a row."""
    click.echo(f"{'style':<14}{'n':>5}{'quote@1':>9}{'quote@3':>9}{'answered':>10}{'refused':>9}")
    for style, m in result["styles"].items():
        if "refused" in m:
            click.echo(f"{style:<14}{m['n']:>5}{'':>28}{m['refused']:>9.3f}")
        else:
            click.echo(
                f"{style:<14}{m['n']:>5}{m['answer_in_quote@1']:>9.3f}"
                f"{m['answer_in_quote@3']:>9.3f}{m['answered']:>10.3f}"
            )
    a, abst = result["answerable"], result["abstention"]
    click.echo(
        f"{'answerable':<14}{a['n']:>5}{a['answer_in_quote@1']:>9.3f}{a['answer_in_quote@3']:>9.3f}"
        f"{a['answered']:>10.3f}"
    )
    click.echo(
        f"without refusals the first quote holds the answer for {a['unrefused_quote@1']:.3f}; "
        f"an answer is among the passages quoted from for {a['retrieved']:.3f}"
    )
    lost = a["lost_in"]
    click.echo(
        f"misses lost in retrieval {lost['retrieval']}, sentence choice {lost['sentence']}, "
        f"abstention {lost['abstention']}"
    )
    click.echo(
        f"refusals: precision {abst['precision']:.3f}, recall {abst['recall']:.3f} "
        f"over {abst['negatives']} negatives"
    )
    s = result["span"]
    click.echo(
        f"answer span: shown for {s['shown']} of {s['answered']} answered ({s['shown_share']:.3f}); "
        f"it contains a gold answer for {s['contains_answer']:.3f}; shown on {s['shown_on_negatives']} negatives"
    )


if __name__ == "__main__":
    sys.exit(main())
