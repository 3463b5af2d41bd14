"""The sample world: fictional outlets served on 127.0.0.1 for the tests and `sequelwatch demo`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sequelwatch.sampleworld.server import SITE, RequestRecord, SampleWorld, serve

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.toml"
SOURCES = HERE / "sources.toml"

__all__ = [
    "MANIFEST",
    "SITE",
    "SOURCES",
    "RequestRecord",
    "SampleWorld",
    "load_manifest",
    "serve",
    "sources_toml",
]


def load_manifest() -> dict[str, Any]:
    """The sample world's truth: articles, never_fetched and unresolved paths."""
    return tomllib.loads(MANIFEST.read_text(encoding="utf-8"))


def sources_toml(base_url: str) -> str:
    """The sample world's sources file with @@BASE@@ replaced by base_url."""
    return SOURCES.read_text(encoding="utf-8").replace("@@BASE@@", base_url.rstrip("/"))
