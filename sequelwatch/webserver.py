"""The web face served from a thread of the daemon, with an event loop of its own."""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

import config

logger = logging.getLogger("sequelwatch.daemon")


class WebThread(threading.Thread):
    """Serves sequelwatch.web's application on [web] listen until stopped."""

    def __init__(self, settings: config.Settings) -> None:
        super().__init__(name="web", daemon=True)
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.runner: web.AppRunner | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """Start the server and run the loop until stop() is called."""
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except OSError as exc:  # the port is taken: the rest of the daemon carries on
            self.error = exc
            logger.error("web face not started on %s: %s", self.settings.web.listen, exc)
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()
        if self.runner is not None:
            self.loop.run_until_complete(self.runner.cleanup())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()

    async def _start(self) -> None:
        """Build the app and listen."""
        from sequelwatch.web import RedactingAccessLogger, make_app

        # the access log never shows a subscriber's token
        self.runner = web.AppRunner(make_app(self.settings), access_log_class=RedactingAccessLogger)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.web.host, self.settings.web.port)
        await site.start()
        logger.info("web face on http://%s", self.settings.web.listen)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.join(10)
