"""The peers, each in its own virtual environment under bench/.peers/: `python bench/peers.py`.

trafilatura: its own feed crawler, `trafilatura --feed -i FEEDS`, exactly as a user runs
it, with two settings changed in a copy of its settings.cfg: SSRF_PROTECTION off (it
refuses 127.0.0.1 otherwise) and SLEEP_TIME 0 (its default waits 5 s between two requests
to one host; sequelwatch runs with download_delay 0 here too). Its downloader takes one
URL per host per round, so on one host it fetches one page at a time whatever --parallel
says: that is its real behaviour, and what is measured.

news-please: `NewsPlease.from_urls(urls, request_args={"timeout": 30}, fetch_images=False)`
over the article URLs (it has no feed reader in this mode, so it is spared the feed
requests). It starts one thread per URL, then extracts in a process pool. The timeout is
passed because with request_args=None its from_urls fails on `None.get("timeout")` for
every page and returns empty results; images are not fetched so that it fetches the same
pages as the others.
"""

from __future__ import annotations

import argparse
import configparser
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
# lxml 6.1 moved lxml.html.clean out; trafilatura's jusText still imports it.
PACKAGES = {"trafilatura": ["trafilatura", "lxml_html_clean"], "news-please": ["news-please"]}
MODULES = {"trafilatura": "trafilatura", "news-please": "newsplease"}

NEWSPLEASE_SCRIPT = """
import json, sys
from newsplease import NewsPlease
urls = open(sys.argv[1], encoding="utf-8").read().split()
found = NewsPlease.from_urls(urls, request_args={"timeout": 30}, fetch_images=False)
ok = sum(1 for a in found.values() if a and getattr(a, "maintext", None))
print(json.dumps({"extracted": ok}))
"""


class PeerUnavailable(RuntimeError):
    """A peer could not be installed or run here; the message says why."""


@dataclass(frozen=True)
class PeerRun:
    """One peer run: wall seconds and how many pages it extracted text from."""

    seconds: float
    extracted: int


def peer_python(name: str, install: bool = True) -> Path:
    """The peer's venv Python, creating the venv and installing the peer if needed."""
    venv = PEERS_DIR / name
    python = venv / "bin" / "python"
    if python.exists() and _imports(python, MODULES[name]):
        return python
    if not install:
        raise PeerUnavailable(f"{name} is not installed in {venv}")
    steps = [
        ["python3", "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", *PACKAGES[name]],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            lines = [x for x in done.stderr.splitlines() if not x.startswith("WARNING:")]
            raise PeerUnavailable(f"{' '.join(step[:4])} failed: {' '.join(lines[-3:])[:300]}")
    if not _imports(python, MODULES[name]):
        raise PeerUnavailable(f"{name} installed but `import {MODULES[name]}` fails")
    return python


def _imports(python: Path, module: str) -> bool:
    """Whether the venv's Python can import the module."""
    return (
        subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0
    )


def version(python: Path, distribution: str) -> str:
    """The installed version of a distribution in a venv."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def trafilatura_config(python: Path, folder: Path) -> Path:
    """A copy of the peer's own settings.cfg with the two loopback-bench changes."""
    code = "import trafilatura.settings as s, pathlib; print(pathlib.Path(s.__file__).parent)"
    package = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    parser = configparser.ConfigParser()
    parser.read(Path(package.stdout.strip()) / "settings.cfg", encoding="utf-8")
    parser["DEFAULT"]["SLEEP_TIME"] = "0"
    parser["DEFAULT"]["SSRF_PROTECTION"] = "off"
    path = folder / "trafilatura.cfg"
    with path.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return path


def run_trafilatura(python: Path, feeds: list[str], folder: Path, timeout: float) -> PeerRun:
    """`trafilatura --feed -i FEEDS --json`: find the feeds' links, fetch and extract each."""
    folder.mkdir(parents=True, exist_ok=True)
    feed_list = folder / "feeds.txt"
    feed_list.write_text("\n".join(feeds) + "\n", encoding="utf-8")
    output = folder / "trafilatura.jsonl"
    command = [
        str(python.with_name("trafilatura")),
        "--config-file",
        str(trafilatura_config(python, folder)),
        "--feed",
        "-i",
        str(feed_list),
        "--parallel",
        "16",
        "--json",
    ]
    with output.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        done = subprocess.run(
            command, stdout=out, stderr=subprocess.PIPE, text=True, timeout=timeout
        )
        seconds = time.perf_counter() - started
    lines = output.read_text(encoding="utf-8").splitlines()
    extracted = sum(1 for line in lines if line.startswith("{"))
    if done.returncode not in (0, 1) or not extracted:
        raise PeerUnavailable(f"trafilatura exited {done.returncode}: {done.stderr[-300:]}")
    return PeerRun(seconds, extracted)


def run_newsplease(python: Path, urls: list[str], folder: Path, timeout: float) -> PeerRun:
    """`NewsPlease.from_urls` over the article URLs, in the peer's venv."""
    folder.mkdir(parents=True, exist_ok=True)
    url_list = folder / "urls.txt"
    url_list.write_text("\n".join(urls) + "\n", encoding="utf-8")
    script = folder / "newsplease_run.py"
    script.write_text(NEWSPLEASE_SCRIPT, encoding="utf-8")
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), str(script), str(url_list)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=folder,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise PeerUnavailable(f"news-please exited {done.returncode}: {done.stderr[-300:]}")
    extracted = int(json.loads(done.stdout.strip().splitlines()[-1])["extracted"])
    return PeerRun(seconds, extracted)


def main() -> None:
    """Install (or check) both peers and print their versions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    for name, distribution in (("trafilatura", "trafilatura"), ("news-please", "news-please")):
        try:
            python = peer_python(name)
            print(f"{name}: {version(python, distribution)} in {python.parent.parent}")
        except PeerUnavailable as exc:
            print(f"{name}: unavailable: {exc}")


if __name__ == "__main__":
    main()
