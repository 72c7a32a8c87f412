"""Coalesces conversation-list updates from live chat into one write every `interval` seconds.

A live message must not wait for (or pay for) a commit: its list change is noted here and the
latest value per (owner, peer) is written in one transaction by the database executor.
"""
import logging

from models import utcnow
from process.periodic import PeriodicFlush
from services import chat

log = logging.getLogger("market.chat")


class ListWriter(PeriodicFlush):
    def __init__(self, run_db, interval=0.25):
        self.run_db = run_db
        self.interval = interval
        self.pending = {}

    def note_message(self, sender, recipient, preview, unread, at=None, seq=None):
        """A message (sent `at`, number `seq`) was stored: both rows of the conversation
        change (the recipient's counts it unread unless `unread` is 0). The recipient's change
        keeps the seqs it shows and counts, so the write leaves out a message recalled
        meanwhile (services.chat.apply_list_updates)."""
        now = at or utcnow()
        pending = self.pending
        change = pending.get((recipient, sender))
        if change is None:
            change = pending[(recipient, sender)] = {"last_context": None, "unread": 0,
                                                     "seq": None, "counted": []}
        change["send_time"] = now
        change["last_context"] = preview
        change["seq"] = seq
        change["unread"] += unread
        if unread and seq is not None:
            counted = change.get("counted")
            if counted is None:  # the row was noted first as a sender's
                counted = change["counted"] = []
            counted.append(seq)
        change = pending.get((sender, recipient))
        if change is None:
            pending[(sender, recipient)] = {"last_context": None, "unread": 0, "send_time": now}
        else:
            change["send_time"] = now

    async def flush(self):
        """Write what is pending now; on failure keep it for the next round."""
        if not self.pending:
            return
        batch, self.pending = self.pending, {}
        try:
            await self.run_db(chat.apply_list_updates, batch)
        except Exception as e:  # keep the loop alive; the rows are retried next round
            log.warning("conversation list update failed (%s); retrying", e)
            for key, change in batch.items():
                newer = self.pending.get(key)
                if newer is None:
                    self.pending[key] = change
                else:
                    newer["unread"] += change["unread"]
                    if "counted" in change:
                        newer.setdefault("counted", [])[:0] = change["counted"]
                    if newer["last_context"] is None:
                        newer["last_context"] = change["last_context"]
                        newer["seq"] = change.get("seq")
