"""Helpers the tests share: running the real command line in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, config_path: Path | None = None, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real `sequelwatch` command in its own process (each crawl needs a reactor)."""
    env = dict(os.environ)
    env.pop("SEQUELWATCH_CONFIG", None)
    if config_path is not None:
        env["SEQUELWATCH_CONFIG"] = str(config_path)
    done = subprocess.run(
        [sys.executable, "-m", "sequelwatch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if check and done.returncode:
        raise AssertionError(f"sequelwatch {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def start_daemon(
    config_path: Path, log: Path, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """`sequelwatch daemon` as a service manager runs it, checking digests every second;
    what it prints (JSON log lines) is appended to `log`. `new_session` gives it its own
    process group, so that a test can kill it with its crawl as systemd would."""
    env = dict(os.environ, SEQUELWATCH_CONFIG=str(config_path), SEQUELWATCH_DIGEST_CHECK="1")
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "sequelwatch", "daemon", "--log-format", "json"],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
            start_new_session=new_session,
        )


def daemon_events(log: Path) -> list[str]:
    """The messages of the daemon's JSON log lines."""
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [json.loads(line)["message"] for line in lines if line.startswith("{")]
