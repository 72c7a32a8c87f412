"""Group commits for the chat store: messages and receipts are queued on the IOLoop and written
one transaction per batch on the database executor; each operation's callback runs after the
commit (a message is acknowledged only once it is stored), never one commit per message, and
no future or coroutine per operation.

A batch starts when the previous one has committed, after at most `interval` seconds of
collecting (or at once when `batch` operations wait), so under load a commit carries whatever
arrived while the previous one was being written. Batches run one at a time, in queue order:
the store's order (seq) follows the order messages were accepted in this process.
"""
import asyncio
import functools
import logging

from process.periodic import stop_tasks
from services import chat
from errors import ServiceError, Unavailable

log = logging.getLogger("market.chat")


class MessageWriter:
    def __init__(self, run_db, limit, interval=0.002, batch=256, deadline=2.0):
        self.run_db = run_db
        self.deadline = deadline  # a batch not committed by then is refused (chat.store_timeout)
        self.limit = limit
        self.interval = interval
        self.batch = batch
        self.queued = []  # (op, then or None), in the order accepted
        self.wake = asyncio.Event()
        self.task = None
        self.stopping = False
        self.commits = self.written = 0  # figures: batches committed, operations in them
        self.late = None  # the refusal, while a batch is past its deadline
        self.told = None  # the batch whose callers _too_late told

    def queue(self, op, then=None):
        """Queue an operation; then(result) runs on the IOLoop after its commit, with the
        operation's result or the exception that refused it (None: nobody waits, a failure
        is logged). While a batch is past its deadline (a hung database) it is refused at
        once."""
        if self.late is not None:  # told on the next turn, as after a commit
            asyncio.get_running_loop().call_soon(_tell, then, self.late)
            return
        self.queued.append((op, then))
        self.wake.set()

    def submit(self, op):
        """queue() for a caller that awaits: a future for the operation's result."""
        future = asyncio.get_running_loop().create_future()
        self.queue(op, functools.partial(_resolve, future))
        return future

    def start(self):
        self.task = asyncio.ensure_future(self._loop())

    async def _loop(self):
        while not self.stopping:
            await self.wake.wait()
            self.wake.clear()
            while self.queued:
                if len(self.queued) < self.batch and self.interval:
                    await asyncio.sleep(self.interval)
                await self.flush_one()

    async def flush_one(self):
        """Write the first `batch` queued operations in one transaction."""
        batch, self.queued = self.queued[:self.batch], self.queued[self.batch:]
        if not batch:
            return
        try:
            results = await self._commit(batch)
        except Exception as e:  # nothing of the batch committed: every caller is told
            if not isinstance(e, ServiceError):
                log.exception("chat batch of %d failed", len(batch))
                e = Unavailable("the message could not be stored, send it again")
            if self.told is not batch:
                for _, then in batch:
                    _tell(then, e)
            return
        self.commits += 1
        self.written += len(batch)
        if self.told is batch:  # refused past its deadline: its callers were told already
            return
        for (_, then), result in zip(batch, results):
            _tell(then, result)

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
                    len(batch), self.deadline, len(self.queued))
        self.late = Unavailable("the message could not be stored, send it again")
        self.told = batch  # each callback runs once: not again when the commit ends
        waiting, self.queued = batch + self.queued, []
        for _, then in waiting:
            _tell(then, self.late)

    async def stop(self):
        """Write what is queued, then end the loop."""
        self.stopping = True
        self.wake.set()
        if self.task:  # it ends after the batch in progress (a cancel would orphan its callers)
            done, _ = await asyncio.wait([self.task], timeout=10)
            if not done:
                await stop_tasks([self.task])
            self.task = None
        while self.queued:
            await self.flush_one()


def _tell(then, result):
    if then is None:
        if isinstance(result, Exception):
            log.warning("chat receipt not written: %s", result)
        return
    try:
        then(result)
    except Exception:  # one caller's failure never keeps the others from their results
        log.exception("chat commit callback failed")


def _resolve(future, result):
    if future.done():
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
