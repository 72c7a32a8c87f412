"""Admin housekeeping: announcements, admin openids, banner images, the audit log, dashboard figures."""
import datetime
import os

from peewee import IntegrityError, fn

from models import utcnow
from models.admin import AdminAction, AdminNotice, AdminOpenid
from models.chat import ChatMessage
from models.goods import BANNER, Goods, Image
from models.user import BLOCKED, User
from services import validate
from services.goods import write_txn
from services.clock import CHINA, display
from services.errors import Conflict, NotFound
from services.moderation import record

SLOTS = (1, 2, 3)
NOTICE_CHARS = 1000


# -- announcements ------------------------------------------------------------------------------

def notices():
    """/admin/getNotice's extend: always Info1, Info2 and Info3 (empty noticeInfo when unset)."""
    stored = {n.mid: n.notice_info for n in AdminNotice.select().where(AdminNotice.mid.in_(SLOTS))}
    return {"Info%d" % mid: {"noticeInfo": stored.get(mid, "")} for mid in SLOTS}


def update_notice(actor, mid, text):
    """Set announcement slot `mid` (1..3); an empty text clears it. Answers all three slots."""
    mid = validate.choice(mid, "mid", SLOTS)
    text = validate.text(text, "noticeInfo", NOTICE_CHARS, required=False)
    with write_txn():
        old = AdminNotice.get_or_none(AdminNotice.mid == mid)
        if old is None:
            AdminNotice.create(mid=mid, notice_info=text)
        else:
            AdminNotice.update(notice_info=text, updated_at=utcnow()).where(
                AdminNotice.mid == mid).execute()
        record(actor, "notice.update", "notice:%d" % mid, text)
    return notices()


# -- openids that /wx/admin/isAdmin accepts -------------------------------------------------------

def admin_openids():
    """[{id, openid, wxname, created_at}] of the admin openids, oldest first."""
    rows = list(AdminOpenid.select().order_by(AdminOpenid.id))
    names = User.names(r.openid for r in rows)
    return [{"id": r.id, "openid": r.openid, "created_at": display(r.created_at),
             "wxname": names[r.openid].wxname if r.openid in names else ""} for r in rows]


def add_admin_openid(actor, openid):
    """Let this openid see the admin entry of the mini-program."""
    openid = validate.openid(openid)
    try:
        with write_txn():
            AdminOpenid.create(openid=openid)
            record(actor, "openid.add", "user:" + openid)
    except IntegrityError:
        raise Conflict("%s is already an admin openid" % openid)
    return {"openid": openid}


def remove_admin_openid(actor, openid):
    """Take the admin entry away from this openid."""
    openid = validate.openid(openid)
    with write_txn():
        if not AdminOpenid.delete().where(AdminOpenid.openid == openid).execute():
            raise NotFound("%s is not an admin openid" % openid)
        record(actor, "openid.remove", "user:" + openid)
    return {"openid": openid}


# -- home banners (Image rows with flag 2) ------------------------------------------------------

def banners():
    """[{id, url, thumb, created_at}] of the home banners, in the order the home page shows them."""
    return [{"id": i.id, "url": i.url, "thumb": i.thumb, "created_at": display(i.created_at)}
            for i in Image.select().where(Image.flag == BANNER).order_by(Image.id)]


def add_banner(actor, url, thumb=""):
    """Record an already stored image (its URL or stored name) as a home banner."""
    url = validate.text(url, "url", 128)
    with write_txn():
        image = Image.create(openid=actor[:64], flag=BANNER, url=url,
                             thumb=validate.text(thumb, "thumb", 128, required=False))
        record(actor, "banner.add", "image:%d" % image.id, url)
    return {"id": image.id, "url": url}


def store_banner(actor, processed, folder):
    """Write a processed upload (services.images.process) to the public folder as a banner."""
    os.makedirs(folder, exist_ok=True)
    for name, data in ((processed.name, processed.data), (processed.thumb, processed.thumb_data)):
        with open(os.path.join(folder, name), "xb") as f:  # random names: never overwrite
            f.write(data)
    return add_banner(actor, processed.name, processed.thumb)


def remove_banner(actor, image_id):
    """Remove a banner row (the stored file stays: other rows or caches may still cite it)."""
    image_id = validate.integer(image_id, "id", low=1)
    with write_txn():
        if not Image.delete().where(Image.id == image_id, Image.flag == BANNER).execute():
            raise NotFound("no such banner")
        record(actor, "banner.remove", "image:%d" % image_id)
    return {"id": image_id}


# -- audit log ------------------------------------------------------------------------------

def audit(q="", page=0, size=50):
    """Audit lines, newest first; `q` filters by actor, action or target."""
    query = AdminAction.select()
    q = validate.text(q, "q", 64, required=False)
    if q:
        query = query.where((AdminAction.actor == q) | AdminAction.action.startswith(q)
                            | (AdminAction.target == q) | AdminAction.target.endswith(":" + q))
    rows = list(query.order_by(AdminAction.id.desc()).offset(page * size).limit(size + 1))
    items = [{"id": a.id, "actor": a.actor, "action": a.action, "target": a.target,
              "reason": a.reason, "old": a.old_value, "new": a.new_value,
              "at": display(a.created_at)} for a in rows[:size]]
    return {"items": items, "more": len(rows) > size}


def record_action(actor, action, target, reason="", old="", new=""):
    """Audit an action that changed nothing in the database (a broadcast, a sign-in)."""
    record(actor, action, target, reason, old, new)


# -- dashboard ------------------------------------------------------------------------------

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
    listed = Goods.select(Goods.state, fn.COUNT(Goods.gid)).where(
        Goods.deleted == False)  # noqa: E712
    goods = dict(listed.group_by(Goods.state).tuples())
    blocked = User.select(User.openid).where(User.state == BLOCKED)
    return {
        "users": sum(users.values()), "users_by_state": {int(k): v for k, v in users.items()},
        "goods_by_state": {s: goods.get(s, 0) for s in (0, 1, 2)},
        "goods_deleted": Goods.select().where(Goods.deleted == True).count(),  # noqa: E712
        "goods_of_blocked": Goods.select().where(Goods.openid.in_(blocked),
                                                 Goods.deleted == False).count(),  # noqa: E712
        "pending_goods": goods.get(0, 0), "pending_users": users.get(3, 0),
        "offline_waiting": ChatMessage.select().where(
            ChatMessage.offline_slot.is_null(False)).count(),
        "actions_today": AdminAction.select().where(
            AdminAction.created_at >= china_midnight_utc()).count(),
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
