"""Helpers the tests share: running the real command line in its own process."""

from __future__ import annotations

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
