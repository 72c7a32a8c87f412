"""Group commits for the chat store: messages and receipts are queued on the IOLoop and written
one transaction per batch on the database executor; each caller's future resolves after the
commit (a message is acknowledged only once it is stored), never one commit per message.

A batch starts when the previous one has committed, after at most `interval` seconds of
collecting (or at once when `batch` operations wait), so under load a commit carries whatever
arrived while the previous one was being written. Batches run one at a time, in queue order:
the store's order (seq) follows the order messages were accepted in this process.
"""
import asyncio
import logging

from realtime.tasks import stop_tasks
from services import chat
from services.errors import ServiceError, Unavailable

log = logging.getLogger("market.chat")


class MessageWriter:
    def __init__(self, run_db, limit, interval=0.002, batch=256, deadline=2.0):
        self.run_db = run_db
        self.deadline = deadline  # a batch not committed by then is refused (chat.store_timeout)
        self.limit = limit
        self.interval = interval
        self.batch = batch
        self.queue = []  # (op, future or None)
        self.wake = asyncio.Event()
        self.task = None
        self.stopping = False
        self.commits = self.written = 0  # figures: batches committed, operations in them
        self.late = None  # the refusal, while a batch is past its deadline

    def submit(self, op):
        """Queue an operation; a future for its result (set after the commit). While a batch
        is past its deadline (a hung database) it is refused at once."""
        future = asyncio.get_running_loop().create_future()
        if self.late is not None:
            future.set_exception(self.late)
            return future
        self.queue.append((op, future))
        self.wake.set()
        return future

    def submit_quiet(self, op):
        """Queue an operation nobody waits for (a receipt); failures are logged."""
        self.submit(op).add_done_callback(_log_failure)

    def start(self):
        self.task = asyncio.ensure_future(self._loop())

    async def _loop(self):
        while not self.stopping:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                if len(self.queue) < self.batch and self.interval:
                    await asyncio.sleep(self.interval)
                await self.flush_one()

    async def flush_one(self):
        """Write the first `batch` queued operations in one transaction."""
        batch, self.queue = self.queue[:self.batch], self.queue[self.batch:]
        if not batch:
            return
        try:
            results = await self._commit(batch)
        except Exception as e:  # nothing of the batch committed: every caller is told
            if not isinstance(e, ServiceError):
                log.exception("chat batch of %d failed", len(batch))
                e = Unavailable("the message could not be stored, send it again")
            for _, future in batch:
                if not future.done():
                    future.set_exception(e)
            return
        self.commits += 1
        self.written += len(batch)
        for (_, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _commit(self, batch):
        """The batch's results. If its commit has not ended within `deadline` seconds (a hung
        database) its senders, those queued behind it and those who send until it ends are
        refused `unavailable`, not acknowledged late; the next batch still waits for this one
        to end (run_db's own bound), so the order is kept. A late commit may land: a resend
        with the same msgId is then a duplicate."""
        timer = asyncio.get_running_loop().call_later(self.deadline, self._too_late, batch)
        try:
            return await self.run_db(chat.store_batch, [op for op, _ in batch], self.limit)
        finally:
            timer.cancel()
            self.late = None

    def _too_late(self, batch):
        log.warning("chat batch of %d not committed within %.1f s: refused, with %d queued",
                    len(batch), self.deadline, len(self.queue))
        self.late = Unavailable("the message could not be stored, send it again")
        waiting, self.queue = batch + self.queue, []
        for _, future in waiting:
            if not future.done():
                future.set_exception(self.late)

    async def stop(self):
        """Write what is queued, then end the loop."""
        self.stopping = True
        self.wake.set()
        if self.task:  # it ends after the batch in progress (a cancel would orphan its callers)
            done, _ = await asyncio.wait([self.task], timeout=10)
            if not done:
                await stop_tasks([self.task])
            self.task = None
        while self.queue:
            await self.flush_one()


def _log_failure(future):
    if not future.cancelled() and future.exception() is not None:
        log.warning("chat receipt not written: %s", future.exception())
