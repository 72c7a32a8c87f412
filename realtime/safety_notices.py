"""Safety notices in chat: after a message is accepted, its RECIPIENT is told once
per conversation and China day when it looks like one of the usual frauds (services/safety.py
decides, config `safety.kinds`); the message itself is never blocked or changed.

Cheap on the hot path: a message that matches nothing costs the matcher only; a match already
noticed today (in this process) costs a dict lookup. Otherwise a follow-up claims the day's row
(services/safety_notices.py: the unique key makes it once in every process) and sends the
notice to every socket of the recipient through the bus; when no socket took it the row is
given back, and the notice comes when the recipient opens the conversation (after_replay).
Runs on the IOLoop.
"""
import asyncio
import logging

import tornado.locale

from realtime.codec import frame_bytes
from services import chat_frames, safety, safety_notices
from services.clock import display_now

log = logging.getLogger("market.chat")

NOTICE_TEXT = "Trade reminder: %(advice)s"  # locale/zh_CN.csv: 交易提醒：%(advice)s
KNOWN_CAP = 100_000  # (recipient, sender) pairs remembered


class SafetyNotices:
    def __init__(self, config, run_db, bus, later):
        kinds = config["safety"]["kinds"]
        self.enabled = config["safety"]["enabled"]
        self.matcher = safety.Matcher(kinds)
        self.advice = {kind: spec["advice"] for kind, spec in kinds.items()}
        # notices go to every socket of the recipient through the bus: in the server's language
        self.translate = tornado.locale.get(config["locale"]["default"]).translate
        self.run_db, self.bus, self.later = run_db, bus, later
        self.known = {}  # (recipient, sender) -> the China day a notice was shown or claimed
        self.counts = {"sent": 0, "undelivered": 0}

    def after_store(self, message):
        """The chat pipeline's hook after a message is stored and fanned out
        (realtime.delivery.ChatDelivery.after_store; message: {"from", "to", "frame", ...})."""
        frame = message["frame"]
        self.after_message(message["from"], message["to"], frame["type"], frame["content"])

    def after_message(self, sender, recipient, kind, content):
        """One accepted (committed) message: tell its recipient when it matches a pattern."""
        if self.enabled and kind == "text":
            topic = self.matcher.match(content)
            if topic is not None:
                self._maybe(recipient, sender, topic)

    def after_replay(self, socket, frames):
        """A socket opened its conversation: a message from the peer sent today that matches
        and was not noticed (its recipient was offline) is noticed now."""
        if not self.enabled:
            return
        today = display_now()[:10]
        for frame in reversed(frames):
            if (frame.get("fromOpenid") == socket.peer and frame.get("type") == "text"
                    and frame.get("toOpenid") == socket.me
                    and str(frame.get("sendTime", "")).startswith(today)):
                topic = self.matcher.match(frame.get("content"))
                if topic is not None:
                    self._maybe(socket.me, socket.peer, topic)
                    return

    def _maybe(self, recipient, sender, topic):
        day = display_now()[:10]
        key = (recipient, sender)
        if self.known.get(key) == day:
            return
        if len(self.known) >= KNOWN_CAP:
            self.known.clear()
        self.known[key] = day
        self.later(self._notify(recipient, sender, day, topic), "safety notice")

    def frame(self, recipient, sender, topic):
        """The notice: a bubble from `system` the original client can show."""
        text = self.translate(NOTICE_TEXT) % {"advice": self.translate(self.advice[topic])}
        return chat_frames.notice(recipient, sender, topic, text)

    async def _notify(self, recipient, sender, day, topic):
        try:
            if not await self.run_db(safety_notices.claim, recipient, sender, day, topic):
                return  # shown already (another process, or before a restart)
        except Exception:
            self.known.pop((recipient, sender), None)  # the database away: try another time
            raise
        sent = await self._deliver(recipient, self.frame(recipient, sender, topic))
        if sent:
            self.counts["sent"] += 1
            return
        self.counts["undelivered"] += 1
        self.known.pop((recipient, sender), None)
        await self.run_db(safety_notices.release, recipient, sender, day)

    async def _deliver(self, openid, frame):
        """bus.deliver, awaited: how many sockets (in every process) took the frame."""
        counted = asyncio.get_running_loop().create_future()
        sent = self.bus.deliver(openid, frame, frame_bytes(frame),
                                then=lambda n: counted.done() or counted.set_result(n))
        return sent if sent is not None else await counted
