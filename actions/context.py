"""What an action may use: the application's long-lived objects, and follow-ups run later."""
import asyncio
import functools
import logging
from dataclasses import dataclass, field

from process.periodic import stop_tasks

log = logging.getLogger("market.actions")


class FollowUps:
    """Follow-ups run without making the caller wait: each failure is logged with its
    traceback, and every one still running is tracked, so shutdown can wait for or cancel it."""

    def __init__(self):
        self.running = set()

    def later(self, coroutine, what):
        """Run `coroutine` on the IOLoop after this call returns; `what` names it in the log."""
        task = asyncio.ensure_future(coroutine)
        self.running.add(task)
        task.add_done_callback(functools.partial(self._done, what))
        return task

    def _done(self, what, task):
        self.running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("follow-up %s failed: %s", what, error,
                      exc_info=(type(error), error, error.__traceback__))

    async def stop(self, timeout):
        """Give running follow-ups up to `timeout` seconds, then cancel what is left."""
        if self.running:
            await asyncio.wait(set(self.running), timeout=timeout)
        await stop_tasks(list(self.running))


@dataclass
class Context:
    """The long-lived objects of one application that actions use (made in make_app)."""
    config: dict
    run_db: object          # MarketApp.run_db: a service function on the database executor
    chat: object            # realtime.delivery.ChatDelivery: broadcast, close a user's sockets
    content: object         # wechat.content_check.ContentCheck
    notifier: object        # wechat.subscribe_messages.Notifier
    sign_in_throttle: object  # process.ratelimit.SignInThrottle
    follow_ups: FollowUps = field(default_factory=FollowUps)
    control: object = None  # realtime.control.Control: revocations and blocks, every process
    wechat: object = None   # wechat.client.WechatApi: code2session at login

    def later(self, coroutine, what):
        """A follow-up that must not delay the answer (see FollowUps.later)."""
        return self.follow_ups.later(coroutine, what)
