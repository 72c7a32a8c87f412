"""Background work on the IOLoop: stopping tasks for certain, whatever the libraries they await
do with a cancel; a job run every few seconds (`Periodic`); a writer flushed every second
(`PeriodicFlush`)."""
import asyncio
import logging

log = logging.getLogger("market.tasks")


async def stop_tasks(tasks, patience=5.0, retry_every=0.1):
    """Cancel `tasks` and wait until every one has ended (at most `patience` seconds).

    One cancel is not always enough: a library may catch the CancelledError thrown into an
    await and carry on (seen with redis-py's connection code on Python 3.11: a bus task that
    was cancelled while connecting logged "redis reachable" afterwards and slept on, so the
    worker never finished shutting down). So the tasks are cancelled again every
    `retry_every` seconds until they end; loops should also check a stop flag of their own.
    Returns the tasks still running after `patience` (logged), normally none."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    pending = {t for t in tasks if t is not None and not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=retry_every)
        if pending and loop.time() >= deadline:
            log.warning("%d background task(s) did not stop within %.1fs: %s", len(pending),
                        patience, ", ".join(sorted(t.get_name() for t in pending)))
            break
    for task in tasks:  # retrieve outcomes, so none is reported as "never retrieved"
        if task is not None and task.done() and not task.cancelled():
            task.exception()
    return pending


class PeriodicFlush:
    """A writer that coalesces in memory and writes every `interval` seconds: `flush()` (the
    subclass's) runs on a loop started by `start()`; `stop()` ends the loop, waiting for a
    flush in progress, then flushes what is left. Subclasses set `interval` and define flush."""

    interval = 1.0
    _task = None
    _stopping = False

    def start(self):
        self._stopping = False
        self._task = asyncio.ensure_future(self._loop())

    async def _loop(self):
        while not self._stopping:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self):
        raise NotImplementedError

    async def stop(self):
        """End the loop (waiting for a flush in progress), then write what is still pending."""
        self._stopping = True
        if self._task:
            await stop_tasks([self._task])
            self._task = None
        await self.flush()


class Periodic:
    """A job on the IOLoop: `run()` (the subclass's) after `first` seconds, then every `every`
    seconds until `stop()`. A failure (the database away) is logged with `what` and the next
    round tries again; nothing is pending in memory, so stopping runs nothing more."""

    every, first, what = 60.0, 5.0, "background job"
    task = None

    def start(self):
        self.task = asyncio.ensure_future(self._loop())

    async def _loop(self):
        await asyncio.sleep(self.first)
        while True:
            try:
                await self.run()
            except Exception:  # a database hiccup must not end the loop
                log.exception("%s failed", self.what)
            await asyncio.sleep(self.every)

    async def run(self):
        raise NotImplementedError

    async def stop(self):
        if self.task is not None:
            await stop_tasks([self.task])
            self.task = None
