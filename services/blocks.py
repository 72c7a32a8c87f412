"""Blocks between users: a user blocks another; the blocker no longer sees the
blocked user's listings, comments and notices (filtered in each read's query:
models.account.UserBlock.not_blocked_by), and chat between the two is refused (realtime/control.py
caches each blocker's set; a change is announced on the bus). Plain functions."""
from peewee import IntegrityError, fn

from models import utcnow, write_txn
from models.account import UserBlock
from models.user import DELETED, User
from services import validate
from services.users import require_user
from services.clock import display
from errors import Invalid, NotFound, TooMany

MAX_BLOCKS = 500  # blocks one user may hold; a set this size is what a cache entry holds at most


def _other(me, other):
    other = validate.openid(other)
    if other == me:
        raise Invalid("you cannot block yourself")
    return other


def block(me, other):
    """`me` blocks `other` (idempotent: blocking again changes nothing); True when new."""
    other = _other(me, other)
    require_user(me)  # never a block row for an account deleted meanwhile
    user = User.by_openid(other)
    if user is None or user.state == DELETED:
        raise NotFound("no such user")
    if UserBlock.select().where(UserBlock.blocker == me, UserBlock.blocked == other).exists():
        return False
    if UserBlock.select().where(UserBlock.blocker == me).count() >= MAX_BLOCKS:
        raise TooMany("you can block at most %(n)d users: unblock someone first", n=MAX_BLOCKS)
    try:
        with write_txn():
            UserBlock.create(blocker=me, blocked=other, created_at=utcnow())
    except IntegrityError:  # the same block at the same moment
        return False
    return True


def unblock(me, other):
    """`me` unblocks `other` (idempotent); True when a block was removed."""
    other = _other(me, other)
    return UserBlock.delete().where(UserBlock.blocker == me, UserBlock.blocked == other) \
        .execute() > 0


def blocked_list(me):
    """extend.blocked of /wx/user/blocked: who `me` blocks, newest first, with their names."""
    rows = list(UserBlock.select().where(UserBlock.blocker == me)
                .order_by(UserBlock.id.desc()).limit(MAX_BLOCKS))
    users = User.names(r.blocked for r in rows)
    return [{"openid": r.blocked, "wxname": users[r.blocked].wxname if r.blocked in users else "",
             "headImg": users[r.blocked].head_img if r.blocked in users else "",
             "blockedAt": display(r.created_at)} for r in rows]


def blocked_by(blocker):
    """The set of openids `blocker` blocks (what the cache holds for them)."""
    return frozenset(r.blocked for r in UserBlock.select(UserBlock.blocked)
                     .where(UserBlock.blocker == blocker).limit(MAX_BLOCKS))


def counts(openid=None):
    """Figures for the admin pages, never who blocked whom: for one user, how many block them
    and how many they block; without a user, blocks in all and users blocking someone."""
    if openid is None:
        return {"blocks": UserBlock.select().count(),
                "blockers": UserBlock.select(fn.COUNT(fn.DISTINCT(UserBlock.blocker))).scalar()}
    return {"blocked_by": UserBlock.select().where(UserBlock.blocked == openid).count(),
            "blocking": UserBlock.select().where(UserBlock.blocker == openid).count()}
