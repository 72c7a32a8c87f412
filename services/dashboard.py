"""The dashboard's figures: users and listings by state, admin actions today, and the trends of
the last 30 days (listings, reports, chat messages and chat safety notices per day; the review
queue), all counted in the database."""
import datetime
import time

from peewee import SQL, NodeList, Select, fn

from models import db, is_mysql, utcnow
from models.admin import AdminAction
from models.chat import ChatMessage
from models.goods import APPROVED, PENDING, REJECTED, Goods
from models.report import Report
from models.user import BLOCKED, PENDING as USER_PENDING, User
from process.caches import PastDays
from services import blocks, chat, content_checks, ratings, reports, safety_notices, wanted
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
        "goods_by_state": {s: goods.get(s, 0) for s in (PENDING, APPROVED, REJECTED)},
        "goods_deleted": Goods.select().where(Goods.deleted == True).count(),  # noqa: E712
        "goods_of_blocked": Goods.live().where(Goods.openid.in_(blocked)).count(),
        "pending_goods": goods.get(PENDING, 0), "pending_users": users.get(USER_PENDING, 0),
        "offline_waiting": ChatMessage.select().where(
            ChatMessage.offline_slot.is_null(False)).count(),
        "actions_today": AdminAction.select().where(
            AdminAction.created_at >= china_midnight_utc()).count(),
        "user_blocks": blocks.counts(),  # between users: figures only, never who blocked whom
        # want-to-buy and sales figures (/admin/wanted and /admin/ratings show them)
        "wanted_active": wanted.active_count(),
        "sold_per_week": ratings.sold_per_week(4),
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
    SQL (at most one row a day comes back; for small sets such as the review queue)."""
    day = _day(column).alias("d")
    rows = (query.select(day, fn.COUNT(SQL("*"))).where(column >= start, column < end)
            .group_by(SQL("d")).tuples())
    return {str(d)[:10]: n for d, n in rows}


past_days = PastDays()  # this process's counts of China days already over


def range_count(query, column, start):
    """COUNT(*) of `query` over one day from `start`: a range of the column's index."""
    return query.select(fn.COUNT(SQL("*"))).where(
        column >= start, column < start + datetime.timedelta(days=1))


def day_counts(name, query, column, starts, today):
    """[rows of `query` per China day] for days starting at `starts` (naive UTC midnights,
    oldest first): the days not known yet in one statement of index range counts, one
    `(SELECT COUNT(*) … WHERE column >= a AND column < b)` per day (a range count of the
    column's index: no function on each row, which made GROUP BY DATE(…) 2–5× slower)."""
    clock, tag = time.monotonic(), id(db.obj)
    counts = [None if day >= today else past_days.get((tag, name, day), clock) for day in starts]
    todo = [i for i, n in enumerate(counts) if n is None]
    if todo:
        subqueries = [range_count(query, column, starts[i]) for i in todo]
        for i, n in zip(todo, db.execute(Select(columns=subqueries)).fetchone()):
            counts[i] = n
            if starts[i] < today:
                past_days.put((tag, name, starts[i]), n, clock)
    return counts


def trends(now=None, days=TREND_DAYS):
    """The last `days` China days up to today: new listings, reports and chat messages per day
    (stored rows, so every process and restart is counted), and the review queue: how many
    listings wait, the oldest's wait, and how many wait by the day they were published."""
    now = now or utcnow()
    today = china_midnight_utc(now)
    starts = [today - datetime.timedelta(days=days - 1 - i) for i in range(days)]
    labels = [(day + datetime.timedelta(hours=8)).strftime("%Y-%m-%d") for day in starts]
    out = {
        "listings": day_counts("listings", Goods.select(), Goods.issue_time, starts, today),
        "reports": day_counts("reports", Report.select(), Report.created_at, starts, today),
        "messages": day_counts("messages", ChatMessage.select(), ChatMessage.send_time, starts,
                               today),
    }
    # safety notices in chat: one row per notice shown, grouped by its China day
    notices = safety_notices.per_day(labels)
    out.update(safety=notices["total"],
               safety_kinds={kind: sum(counts) for kind, counts in notices["kinds"].items()},
               safety_today={kind: counts[-1] for kind, counts in notices["kinds"].items()
                             if counts[-1]})
    # the queue is small and changes all the time: grouped in SQL over the pending rows
    waiting = Goods.live().where(Goods.state == PENDING)
    oldest = waiting.select(fn.MIN(Goods.issue_time)).scalar()
    by_day = per_day(waiting, Goods.issue_time, starts[0], today + datetime.timedelta(days=1))
    out.update(days=labels, waiting_by_day=[by_day.get(d, 0) for d in labels],
               waiting=waiting.count(),
               waiting_before=waiting.where(Goods.issue_time < starts[0]).count(),
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
