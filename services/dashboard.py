"""The dashboard's figures: users and listings by state, admin actions today, and the trends of
the last 30 days (listings, reports, chat messages per day; the review queue), all counted in
the database."""
import datetime

from peewee import SQL, NodeList, fn

from models import is_mysql, utcnow
from models.admin import AdminAction
from models.chat import ChatMessage
from models.goods import PENDING, Goods
from models.report import Report
from models.user import BLOCKED, User
from services import chat, content_checks, reports
from services.clock import CHINA

TREND_DAYS = 30


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
    }


def _day(column):
    """SQL for a naive-UTC DateTimeField's China day ('YYYY-MM-DD' on SQLite, a DATE on MySQL)."""
    if is_mysql():
        return fn.DATE(NodeList((column, SQL("+ INTERVAL 8 HOUR"))))
    # whole seconds: SQLite's date() rounds to the millisecond, so 15:59:59.9999996 UTC (stored
    # with microseconds) became the next China day
    return fn.date(fn.substr(column, 1, 19), "+8 hours")


def per_day(query, column, start, end):
    """{'YYYY-MM-DD': rows} of `query` with `column` in [start, end), grouped by China day in
    SQL: one range scan of the column's index, at most one row a day comes back."""
    day = _day(column).alias("d")
    rows = (query.select(day, fn.COUNT(SQL("*"))).where(column >= start, column < end)
            .group_by(SQL("d")).tuples())
    return {str(d)[:10]: n for d, n in rows}


def trends(now=None, days=TREND_DAYS):
    """The last `days` China days up to today: new listings, reports and chat messages per day
    (stored rows, so every process and restart is counted), and the review queue: how many
    listings wait, the oldest's wait, and how many wait by the day they were published."""
    now = now or utcnow()
    today = china_midnight_utc(now)
    start, end = today - datetime.timedelta(days=days - 1), today + datetime.timedelta(days=1)
    labels = [(start + datetime.timedelta(days=i, hours=8)).strftime("%Y-%m-%d")
              for i in range(days)]
    series = {
        "listings": per_day(Goods.select(), Goods.issue_time, start, end),
        "reports": per_day(Report.select(), Report.created_at, start, end),
        "messages": per_day(ChatMessage.select(), ChatMessage.send_time, start, end),
    }
    waiting = Goods.live().where(Goods.state == PENDING)
    oldest = waiting.select(fn.MIN(Goods.issue_time)).scalar()
    by_day = per_day(waiting, Goods.issue_time, start, end)
    out = {name: [counts.get(d, 0) for d in labels] for name, counts in series.items()}
    out.update(days=labels, waiting_by_day=[by_day.get(d, 0) for d in labels],
               waiting=waiting.count(), waiting_before=waiting.where(Goods.issue_time < start).count(),
               oldest_at=oldest, oldest_hours=_hours(now, oldest))
    return out


def _hours(now, then):
    """Whole hours from `then` to `now` (None without `then`; SQLite may hand back text)."""
    if then is None:
        return None
    if isinstance(then, str):
        then = Goods.issue_time.python_value(then)
    return max(0, int((now - then).total_seconds() // 3600))


def metrics_figures():
    """The database figures of a /metrics scrape, in one unit of work."""
    return {"offline_waiting": chat.offline_waiting(), "held": content_checks.held_count(),
            "reports_open": reports.open_count()}
