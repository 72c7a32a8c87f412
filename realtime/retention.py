"""The chat store's retention: messages (and chat pictures) older than `chat.history_days` are
deleted in the background, in small batches with a pause between them, so no transaction holds
many rows and the IOLoop never waits. Every process may run it: deleting by seq is idempotent."""
import asyncio
import datetime
import logging

from models import utcnow
from process.periodic import Periodic
from services import chat, images

log = logging.getLogger("market.chat")


class ChatRetention(Periodic):
    what = "chat purge"

    def __init__(self, run_db, days, folder, every=3600.0, first=60.0, batch=500, pause=0.05):
        self.run_db = run_db
        self.days = days
        self.folder = folder  # the private uploads folder (chat pictures)
        self.every, self.first = every, first
        self.batch, self.pause = batch, pause
        self.purged = 0  # messages deleted since start (metrics, tests)

    async def run(self):
        await self.purge()

    async def purge(self, now=None):
        """Delete everything older than the retention; (messages, pictures) deleted."""
        cutoff = (now or utcnow()) - datetime.timedelta(days=self.days)
        messages = pictures = 0
        while True:
            n = await self.run_db(chat.purge_before, cutoff, self.batch)
            messages += n
            if n < self.batch:
                break
            await asyncio.sleep(self.pause)
        while True:
            n = await self.run_db(images.purge_chat_images, cutoff, self.folder, self.batch)
            pictures += n
            if n < self.batch:
                break
            await asyncio.sleep(self.pause)
        self.purged += messages
        if messages or pictures:
            log.info("chat purge: %d messages and %d pictures older than %d days", messages,
                     pictures, self.days)
        return messages, pictures
