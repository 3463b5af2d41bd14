"""`sequelwatch daemon`: crawl each source on its interval, send digests on time, serve the web.

Each crawl runs in a child process (`sequelwatch crawl --source ...`) with a time limit, so
a hung or crashed crawl cannot take the daemon down and every crawl gets a fresh Twisted
reactor. Sources that fall due together go into one child. The schedule resumes from the
store: each source's next crawl is its last fetch plus its interval, and digests are due
by what was last sent, so a restart neither bursts nor repeats.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

import config
from alerts.delivery import transport_for
from alerts.digest import Postman
from alerts.health import notify
from alerts.schedule import scheduled_due
from pipeline.store import Store, iso, utcnow

logger = logging.getLogger("sequelwatch.daemon")

COALESCE_SECONDS = 1.0  # sources falling due within this share one crawl
DIGEST_CHECK = 60  # seconds between digest checks (SEQUELWATCH_DIGEST_CHECK overrides)


class DaemonError(Exception):
    """The daemon cannot start (another one runs on this store, a bad configuration)."""


def lock_path(database: Path) -> Path:
    """The lock (and state) file of the daemon of one store."""
    return database.with_name(database.name + ".daemon")


def daemon_info(database: Path) -> dict[str, Any]:
    """What `status` shows of the daemon: running or not, pid, since when, its jobs."""
    path = lock_path(database)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"running": False, "pid": None, "started": None, "jobs": []}
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return {"running": True, **state}  # held: the daemon is alive
        fcntl.flock(handle, fcntl.LOCK_UN)
    return {**state, "running": False, "jobs": []}


class _Lock:
    """One daemon per store: an exclusive lock on a file beside the database."""

    def __init__(self, database: Path) -> None:
        self.path = lock_path(database)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            other = daemon_info(database)
            raise DaemonError(
                f"another sequelwatch daemon (pid {other.get('pid')}, since"
                f" {other.get('started')}) is running on {database}"
            ) from None
        self.started = iso(utcnow())

    def write(self, state: dict[str, Any]) -> None:
        """Record the daemon's state for `status` (the lock stays held)."""
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(json.dumps({"pid": os.getpid(), "started": self.started, **state}))
        self.handle.flush()

    def release(self) -> None:
        """Let go of the lock (a dead process lets go of it too)."""
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


class CrawlWorker(threading.Thread):
    """Runs due sources in child processes, one child at a time, never a source twice."""

    def __init__(self, daemon: Daemon) -> None:
        super().__init__(name="crawl-worker", daemon=True)
        self.owner = daemon
        self.due: set[str] = set()
        self.wake = threading.Condition()
        self.stopping = False
        self.child: subprocess.Popen[str] | None = None
        self.runs = 0

    def add(self, name: str) -> None:
        """A source fell due."""
        with self.wake:
            self.due.add(name)
            self.wake.notify()

    def run(self) -> None:
        """Take the due sources together and crawl them; repeat until stopped."""
        while True:
            with self.wake:
                while not self.due and not self.stopping:
                    self.wake.wait()
                if self.stopping:
                    return
            time.sleep(COALESCE_SECONDS)  # let sources due together arrive
            with self.wake:
                if self.stopping:
                    return
                names, self.due = sorted(self.due), set()
            self.crawl(names)

    def crawl(self, names: list[str]) -> None:
        """One child process for these sources, stopped at the crawl time limit."""
        settings = self.owner.settings
        command = [sys.executable, "-m", "sequelwatch", "--config", str(settings.path), "crawl"]
        for name in names:
            command += ["--source", name]
        limit = config.parse_duration(settings.schedule.crawl_timeout)
        logger.info("crawl started: %s", ", ".join(names))
        started = time.monotonic()
        self.child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            out, err = self.child.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            logger.error(
                "crawl of %s took longer than %s: stopped",
                ", ".join(names),
                settings.schedule.crawl_timeout,
            )
            out, err = self.finish_child(10)
        code, self.child = self.child.returncode, None
        self.runs += 1
        summary = next((line for line in out.splitlines() if line.startswith("run ")), "")
        detail = summary or err.strip()[-300:]
        if code and summary:  # the run was recorded, then something failed: say what
            detail += "; " + err.strip()[-300:]
        logger.info(
            "crawl finished: %s in %.1f s; exit %s; %s",
            ", ".join(names),
            time.monotonic() - started,
            code,
            detail,
        )
        self.owner.after_crawl()

    def finish_child(self, grace: float) -> tuple[str, str]:
        """Ask the running child to stop (SIGTERM: Scrapy closes cleanly), then kill it."""
        child = self.child
        if child is None:
            return "", ""
        try:
            return child.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            child.terminate()
        try:
            return child.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.communicate()

    def stop(self, grace: float) -> None:
        """Take no more work; let a running crawl finish within the grace period, then end it.

        The child is stopped with SIGTERM (Scrapy closes its spiders and stores what it has),
        then killed if it does not go; the worker thread alone talks to the child's pipes.
        """
        with self.wake:
            self.stopping = True
            self.wake.notify()
        if self.child is not None:
            logger.info("waiting up to %.0f s for the running crawl", grace)
        self.join(grace)
        for ending, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            child = self.child
            if not self.is_alive() or child is None:
                break
            logger.warning("stopping the running crawl (%s)", ending.name)
            child.send_signal(ending)
            self.join(wait)


class Daemon:
    """The scheduler, the crawl worker and the web face of one configuration."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self.settings = config.load(config_path)
        self.lock = _Lock(self.settings.database)
        self.scheduler = BackgroundScheduler(timezone=self.settings.schedule.timezone)
        self.worker = CrawlWorker(self)
        self.stop_event = threading.Event()
        self.sending = threading.Lock()
        self.web: Any = None

    # -- schedule --------------------------------------------------------------------------

    def next_crawl(self, source: config.Source, last: str | None, now: datetime) -> datetime:
        """When a source is next due: its last fetch plus its interval (now if overdue)."""
        every = timedelta(seconds=source.every_seconds)
        if last is None:
            return now + timedelta(seconds=random.uniform(0, 2))
        return max(now, datetime.fromisoformat(last) + every)

    def schedule_sources(self) -> None:
        """One interval job per enabled source, resumed from the store."""
        for job in self.scheduler.get_jobs():
            if job.id.startswith("crawl:"):
                job.remove()
        store = Store(self.settings.database)
        try:
            store.sync_sources(self.settings.sources)
            last = {row["name"]: row["last_fetched"] for row in store.sources_health()}
        finally:
            store.close()
        now = utcnow()
        for source in self.settings.sources:
            if not source.enabled:
                continue
            every = source.every_seconds
            self.scheduler.add_job(
                self.worker.add,
                IntervalTrigger(
                    seconds=every,
                    jitter=every * self.settings.schedule.jitter,
                    start_date=self.next_crawl(source, last.get(source.name), now),
                ),
                args=[source.name],
                id=f"crawl:{source.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(every),
                replace_existing=True,
            )

    def schedule_digests(self) -> None:
        """A frequent check that sends whatever is due (retries, daily, weekly, health)."""
        check = float(os.environ.get("SEQUELWATCH_DIGEST_CHECK") or DIGEST_CHECK)
        self.scheduler.add_job(
            self.send_due,
            IntervalTrigger(seconds=check),
            id="digest",
            coalesce=True,
            max_instances=1,
            replace_existing=True,
            next_run_time=utcnow() + timedelta(seconds=1),
        )

    def write_state(self) -> None:
        """Write the jobs' next runs for `status`."""
        jobs = [
            {"id": job.id, "next_run": iso(job.next_run_time)} for job in self.scheduler.get_jobs()
        ]
        self.lock.write(
            {
                "config": str(self.settings.path),
                "jobs": jobs,
                "crawls": self.worker.runs,
                "updated": iso(utcnow()),
            }
        )

    # -- work ------------------------------------------------------------------------------

    def send_due(self) -> None:
        """Send due digests and tell the operator about sources that changed health."""
        if self.stop_event.is_set():
            return
        with self.sending:
            store = Store(self.settings.database)
            try:
                transport = transport_for(self.settings.delivery, self.settings.outbox, os.environ)
                postman = Postman(
                    store, self.settings, transport, due=scheduled_due(self.settings.schedule)
                )
                report = postman.run()
                for line in report.sent + report.retried:
                    logger.info("digest sent: %s", line)
                for line in report.failed + report.rejected:
                    logger.warning("digest not sent: %s", line)
                notify(store, self.settings, transport, utcnow())
            except Exception:  # a bad day for mail must not stop the schedule
                logger.exception("digest check failed")
            finally:
                store.close()
        self.write_state()

    def after_crawl(self) -> None:
        """After each crawl: health alerts, and the state for `status`."""
        self.write_state()

    def reload(self) -> None:
        """SIGHUP: read the configuration again and reschedule the sources."""
        try:
            self.settings = config.load(self.config_path)
        except config.ConfigError as exc:
            logger.error("configuration not reloaded: %s", exc)
            return
        self.schedule_sources()
        self.write_state()
        logger.info("configuration reloaded: %d sources", len(self.settings.sources))

    # -- life ------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM or Ctrl-C; then finish what is running and exit 0."""
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload).start())
        self.worker.start()
        self.schedule_sources()
        self.schedule_digests()
        self.scheduler.start()
        self.start_web()
        self.write_state()
        logger.info(
            "daemon started: pid %d, %d sources, store %s",
            os.getpid(),
            sum(s.enabled for s in self.settings.sources),
            self.settings.database,
        )
        while not self.stop_event.wait(5):
            self.write_state()
        return self.shutdown()

    def shutdown(self) -> int:
        """Stop taking work, let running work finish within the grace period, exit 0."""
        grace = config.parse_duration(self.settings.schedule.grace)
        logger.info("stopping: finishing running work (up to %s)", self.settings.schedule.grace)
        self.scheduler.shutdown(wait=False)
        self.worker.stop(grace)
        with self.sending:  # a send in progress finishes first
            pass
        self.stop_web()
        self.lock.write({"jobs": [], "stopped": iso(utcnow())})
        self.lock.release()
        logger.info("daemon stopped")
        return 0

    def start_web(self) -> None:
        """Serve the web face on [web] listen, in its own thread and event loop."""
        if not self.settings.web.enabled:
            return
        from sequelwatch.webserver import WebThread

        self.web = WebThread(self.settings)
        self.web.start()

    def stop_web(self) -> None:
        """Stop serving."""
        if self.web is not None:
            self.web.stop()
