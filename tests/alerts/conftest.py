"""SMTP fixtures for the alerts tests: real aiosmtpd servers on 127.0.0.1 (see smtp_servers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.smtp_servers import RecordingHandler, RunningServer, serve, tls_files

StartServer = Callable[..., RunningServer]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start servers with `smtp_server(handler, **options)`; all stop after the test."""
    with ExitStack() as stack:

        def start(handler: RecordingHandler | None = None, **options: Any) -> RunningServer:
            return stack.enter_context(serve(handler, **options))

        yield start


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and its key, for 127.0.0.1 and localhost."""
    return tls_files(tmp_path_factory.mktemp("tls"))
