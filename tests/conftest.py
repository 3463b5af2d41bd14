"""Shared fixtures: the sample world served on 127.0.0.1 and configurations for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sequelwatch.demo import write_config
from sequelwatch.sampleworld.server import SampleWorld, serve


@pytest.fixture
def world() -> Iterator[SampleWorld]:
    """The sample world, served on a free port for one test."""
    with serve() as served:
        yield served


@pytest.fixture
def world_config(world: SampleWorld, tmp_path: Path) -> Path:
    """A configuration whose sources are the sample world's, with a fresh store."""
    return write_config(tmp_path, world.base_url)


# The loopback SMTP servers serve every package's tests, not only alerts'.
from tests.alerts.conftest import smtp_server, tls_certificate  # noqa: E402,F401
