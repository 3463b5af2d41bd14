"""What the pipeline tests share: the shipped topic."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from config import Topic

SHIPPED = Path(config.__file__).parent / "topics" / "alita-battle-angel-2.toml"


@pytest.fixture(scope="session")
def topic() -> Topic:
    """The shipped topic file."""
    return config.load_topic(SHIPPED)


@pytest.fixture(scope="session")
def rules() -> Topic:
    """The shipped topic without its learned model: its rules decide everything."""
    return config.load_topic(SHIPPED).model_copy(update={"model": None})
