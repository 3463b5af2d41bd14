"""`sequelwatch inspect`: what the pipeline makes of a saved page, stored nowhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config import Topic
from pipeline.ingest import build_article
from pipeline.records import Page
from pipeline.store import iso, utcnow


def inspect_page(path: Path, topic: Topic, url: str | None = None) -> dict[str, Any]:
    """Extract and judge one saved HTML page; return the fields a person wants to see."""
    html = path.read_bytes().decode("utf-8", errors="replace")
    page_url = url or path.resolve().as_uri()
    article = build_article(
        Page(url=page_url, source="inspect", fetched_at=utcnow(), html=html), topic
    )
    return {
        "file": str(path),
        "url": article.url,
        "urls": list(article.urls),
        "title": article.title,
        "outlet": article.outlet,
        "authors": list(article.authors),
        "published": iso(article.published),
        "language": article.language,
        "description": article.description,
        "kept": article.relevance.kept,
        "relevance": round(article.relevance.score, 3),
        "reason": article.relevance.reason,
        "text": article.text,
    }
