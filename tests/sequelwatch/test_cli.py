"""The command line: help, documentation, configuration errors, query, inspect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sequelwatch.cli import cli
from tests.helpers import ROOT

PAGES = ROOT / "tests" / "data" / "pages"


def commands() -> list[str]:
    """Every command of `sequelwatch`."""
    return sorted(cli.commands)


@pytest.mark.parametrize("name", commands())
def test_every_command_has_help_and_is_in_the_readme(name: str) -> None:
    command = cli.commands[name]
    assert command.help and len(command.help) > 20
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert f"sequelwatch {name}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_bad_configuration_is_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[crawl]\nspeed = 3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(bad), "status"])
    assert result.exit_code == 1
    assert f"{bad}: unknown key 'crawl.speed'" in result.output
    assert "Traceback" not in result.output


def test_a_broken_model_file_is_one_clear_message_before_anything_runs(tmp_path: Path) -> None:
    topic = (ROOT / "config" / "topics" / "alita-battle-angel-2.toml").read_text(encoding="utf-8")
    (tmp_path / "topic.toml").write_text(
        topic.replace("alita-battle-angel-2.model.json", "broken.model.json"), encoding="utf-8"
    )
    (tmp_path / "broken.model.json").write_text("{not json", encoding="utf-8")
    config_path = tmp_path / "sequelwatch.toml"
    config_path.write_text(
        f'database = "store.db"\ntopic = "{tmp_path}/topic.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config_path), "status"])
    assert result.exit_code == 1
    assert "broken.model.json: cannot be read" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "store.db").exists()


def test_query_refuses_writes_and_missing_stores(tmp_path: Path) -> None:
    config_path = tmp_path / "sequelwatch.toml"
    config_path.write_text(
        f'database = "store.db"\ntopic = "{ROOT}/config/topics/alita-battle-angel-2.toml"\n'
        f'sources = "{ROOT}/config/sources.toml"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    missing = runner.invoke(cli, ["--config", str(config_path), "query", "SELECT 1"])
    assert missing.exit_code == 1 and "no store here yet" in missing.output
    shown = runner.invoke(cli, ["--config", str(config_path), "status"])
    assert shown.exit_code == 0
    assert "decided by its rules and a model learned from 1,870 labelled articles" in shown.output
    described = runner.invoke(cli, ["--config", str(config_path), "status", "--json"])
    assert json.loads(described.output)["topic"]["model"]["articles"] == 1870
    ok = runner.invoke(
        cli, ["--config", str(config_path), "query", "SELECT count(*) AS n FROM sources", "--json"]
    )
    assert ok.exit_code == 0 and json.loads(ok.output)[0]["n"] > 10
    refused = runner.invoke(cli, ["--config", str(config_path), "query", "DELETE FROM sources"])
    assert refused.exit_code == 1 and "read-only" in refused.output
    again = runner.invoke(
        cli, ["--config", str(config_path), "query", "SELECT count(*) AS n FROM sources", "--json"]
    )
    assert json.loads(again.output)[0]["n"] > 10


def test_inspect_shows_fields_text_and_reason_without_storing(tmp_path: Path) -> None:
    pages = sorted(PAGES.glob("*.html"))
    result = CliRunner().invoke(
        cli, ["--config", "config/sequelwatch.toml", "inspect", "--json", *map(str, pages)]
    )
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in result.output.splitlines()]
    assert len(reports) == len(pages)
    for report in reports:
        assert {
            "title",
            "url",
            "outlet",
            "authors",
            "published",
            "language",
            "kept",
            "relevance",
            "reason",
            "text",
        } <= set(report)
        assert report["reason"]
    plain = CliRunner().invoke(
        cli,
        [
            "--config",
            "config/sequelwatch.toml",
            "inspect",
            str(pages[0]),
            "--url",
            "https://news.example/a?utm_source=x",
        ],
    )
    assert plain.exit_code == 0 and "reason" in plain.output
