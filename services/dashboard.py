"""The dashboard's figures: users and listings by state, the day's messages and admin actions."""
import datetime

from peewee import fn

from models import utcnow
from models.admin import AdminAction
from models.chat import ChatMessage
from models.goods import Goods
from models.user import BLOCKED, User
from services import chat, content_checks, ratings, reports, wanted
from services.clock import CHINA


def china_midnight_utc(now=None):
    """Today's 00:00 in China time, as a naive UTC datetime (how DateTimeFields are stored)."""
    now = now or utcnow()
    local = now.replace(tzinfo=datetime.timezone.utc).astimezone(CHINA)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def figures():
    """The dashboard's database figures: users and listings by state, pending reviews, the
    offline messages waiting and today's admin actions (live figures come from the bus)."""
    users = dict(User.select(User.state, fn.COUNT(User.id)).group_by(User.state).tuples())
    listed = Goods.live(Goods.state, fn.COUNT(Goods.gid))
    goods = dict(listed.group_by(Goods.state).tuples())
    blocked = User.select(User.openid).where(User.state == BLOCKED)
    return {
        "users": sum(users.values()), "users_by_state": {int(k): v for k, v in users.items()},
        "goods_by_state": {s: goods.get(s, 0) for s in (0, 1, 2)},
        "goods_deleted": Goods.select().where(Goods.deleted == True).count(),  # noqa: E712
        "goods_of_blocked": Goods.live().where(Goods.openid.in_(blocked)).count(),
        "pending_goods": goods.get(0, 0), "pending_users": users.get(3, 0),
        "offline_waiting": ChatMessage.select().where(
            ChatMessage.offline_slot.is_null(False)).count(),
        "actions_today": AdminAction.select().where(
            AdminAction.created_at >= china_midnight_utc()).count(),
        # issue 18 (the dashboard's template may show them; /admin/wanted and /admin/ratings do)
        "wanted_active": wanted.active_count(),
        "sold_per_week": ratings.sold_per_week(4),
    }


class DailyCounter:
    """Turns a since-start total (ChatDelivery.counts) into a count for the current China day.

    Built with the time counting began (process start, total 0). `observe(total)` should run
    each minute: the first observation of a new day becomes that day's baseline, dated midnight
    when it came within two minutes of it, else dated when it came (so the page says "since").
    """

    def __init__(self, started):
        self.day, self.baseline, self.since = self._day(started), 0, started

    @staticmethod
    def _day(now):
        return now.replace(tzinfo=datetime.timezone.utc).astimezone(CHINA).date()

    def observe(self, total, now=None):
        """Note the running total; at a day change it becomes the new day's baseline."""
        now = now or utcnow()
        day = self._day(now)
        if day != self.day:
            midnight = china_midnight_utc(now)
            self.day, self.baseline = day, total
            self.since = midnight if (now - midnight).total_seconds() <= 120 else now

    def today(self, total, now=None):
        """(messages counted today, naive-UTC time the count covers from: midnight or later)."""
        self.observe(total, now)
        return total - self.baseline, self.since


def metrics_figures():
    """The database figures of a /metrics scrape, in one unit of work."""
    return {"offline_waiting": chat.offline_waiting(), "held": content_checks.held_count(),
            "reports_open": reports.open_count()}
