"""The evaluation command: labelled articles in, precision and recall out."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Topic
from pipeline.evaluate import evaluate, main
from tests.stories import CAST_A


def _write(folder: Path, ident: str, story: str, url: str) -> None:
    text = CAST_A.strip().replace('"', "'")
    (folder / f"{ident}.toml").write_text(
        f'''id = "{ident}"
title = "Rosa Salazar will return as Alita in Alita 2"
description = ""
text = """{text}"""
outlet = "The Trade Ledger"
language = "en"
url = "{url}"
published = "2028-03-02T10:00:00Z"
first_seen = "2028-03-02T10:30:00Z"
relevant = true
categories = ["cast"]
story = "{story}"
duplicate_of = ""
stale = false
trap = ""
facts = []
''',
        encoding="utf-8",
    )


def test_each_annotators_batch_is_its_own_world(tmp_path: Path, topic: Topic) -> None:
    # two annotators who both wrote the same news: in one store, one would be a copy of
    # the other and both one story, which neither annotator labelled
    _write(tmp_path, "x-cast", "x-cast", "https://a.example/x")
    _write(tmp_path, "y-cast", "y-cast", "https://a.example/y")
    report = evaluate([tmp_path], topic)
    assert report.items == 2
    assert (report.relevance.tp, report.relevance.fn) == (2, 0)
    assert report.categories["cast"].tp == 2
    assert (report.duplicates.fp, report.stories.fp) == (0, 0)


def test_the_command_prints_a_table_per_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "x-cast", "x-cast", "https://a.example/x")
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path}: 1 articles" in out
    assert "categories (micro)" in out
    assert main([]) == 2


def test_a_typo_gets_the_usage_not_a_perfect_empty_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m pipeline.evaluate")
    _write(tmp_path, "x-cast", "x-cast", "https://a.example/x")
    assert main(["--rules", str(tmp_path)]) == 0
    assert "categories (micro)" in capsys.readouterr().out
    assert main(["--polled", str(tmp_path)]) == 2
    assert "unknown option: --polled" in capsys.readouterr().err
    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr()
    assert "no labelled articles" in err.err and "1.000" not in err.out


def test_pooled_prints_one_table_of_all_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "heldout1", tmp_path / "heldout2"
    first.mkdir()
    second.mkdir()
    _write(first, "x-cast", "x-cast", "https://a.example/x")
    _write(second, "y-cast", "y-cast", "https://a.example/y")
    assert main(["--pooled", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert out.count("articles") == 1
    assert "heldout1 + heldout2: 2 articles" in out
    assert "relevance               1.000  1.000  1.000  2/0/0" in out
