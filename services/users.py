"""Users: created on first login, registered with a profile, verified by moderators."""
from peewee import IntegrityError

from models import locked_in_txn, utcnow, write_txn
from models.admin import AdminOpenid
from models.user import User, BLOCKED, DELETED
from services import privacy, validate
from errors import Forbidden, Invalid, NotFound


def ensure_user(openid):
    """The user row for this openid, created on first sight."""
    user = User.by_openid(openid)
    if user is None:
        try:
            with write_txn():
                user = User.create(openid=openid)
        except IntegrityError:  # a concurrent first login created it
            user = User.by_openid(openid)
    return user


def get_user(openid):
    """The user, or NotFound."""
    user = User.by_openid(openid)
    if user is None:
        raise NotFound("no such user")
    return user


def is_registered(openid):
    """True once the user sent /user/register."""
    user = User.by_openid(openid)
    return bool(user and user.registered)


PROFILE = {  # register's optional fields: key -> (column, check)
    "headImg": ("head_img", lambda v: _avatar_url(v)),
    "sex": ("sex", lambda v: validate.integer(v, "sex", required=False, default=0, low=0, high=2)),
    "uname": ("uname", lambda v: validate.text(v, "uname", 64, required=False)),
    "qq": ("qq", lambda v: validate.text(v, "qq", 32, required=False)),
    "wx": ("wx", lambda v: validate.text(v, "wx", 64, required=False)),
}
SCHOOL = {"school": 64, "xuehao": 32, "uclass": 64}  # updateUserInfo: all three required


def profile_fields(body):
    """The columns a registration sets, or Invalid (no database: checked before the names go to
    WeChat's content check). `wxname` is required (the name others see); a missing optional
    field keeps its stored value, it is never read as an empty one."""
    fields = {"wxname": validate.text(body.get("wxname"), "wxname", 64)}
    for key, (column, check) in PROFILE.items():
        if key in body:
            fields[column] = check(body[key])
    return fields


def register(openid, fields):
    """Store the profile from `profile_fields`; returns nothing. Blocked users are refused."""
    user = require_active(openid)
    User.update(registered=True, updated_at=utcnow(), **fields).where(User.id == user.id).execute()


def _avatar_url(value):
    """headImg: empty, or an http(s) URL (WeChat's avatar), never javascript: or data:."""
    url = validate.text(value, "headImg", 512, required=False)
    if url and not url.lower().startswith(("https://", "http://")):
        raise Invalid("headImg must be an http(s) URL")
    return url


def contact_info(openid):
    """extend.userinfo of /user/getUserInfo."""
    user = get_user(openid)
    return {"uname": user.uname, "qq": user.qq, "wx": user.wx}


def contact_info_with_privacy(openid, policy_version):
    """extend of /user/getUserInfo: userinfo, and the privacy policy's version and the
    student's consent (services.privacy.status)."""
    return {"userinfo": contact_info(openid), "privacy": privacy.status(openid, policy_version)}


def school_info(openid):
    """extend.userDe of /user/getUserDeInfo."""
    user = get_user(openid)
    return {"school": user.school, "xuehao": user.xuehao, "uclass": user.uclass}


def update_school_info(openid, body):
    """/user/updateUserInfo: school, student number and class, each present (the form sends
    all three; an empty value is kept as sent). Blocked users are refused."""
    fields = {}
    for key, max_len in SCHOOL.items():
        if key not in body:
            raise Invalid("%(field)s is required", field=validate.label(key))
        fields[key] = validate.text(body[key], key, max_len, required=False)
    user = require_active(openid)
    User.update(updated_at=utcnow(), **fields).where(User.id == user.id).execute()


def verification(openid):
    """extend of /admin/userIsOk: the state and the moderator's reason."""
    user = get_user(openid)
    return {"state": user.state, "result": {"noticeInfo": user.reason}}


def is_admin_openid(openid):
    """True when this openid is listed as an admin of the mini-program."""
    return AdminOpenid.select().where(AdminOpenid.openid == openid).exists()


def require_user(openid):
    """The user row, NotFound when there is none or it is a deleted account's (blocked users
    pass: for what touches only their own state). Inside a write transaction on MariaDB the row
    is locked, so a deletion committing meanwhile is seen and nothing is written for it."""
    query = User.select().where(User.openid == openid)
    user = locked_in_txn(query).first()
    if user is None or user.state == DELETED:
        raise NotFound("no such user")
    return user


def require_active(openid):
    """The user, or Forbidden when blocked (blocked users cannot publish, comment or chat).
    Never creates the row (only a login does): a call naming an openid that has no account,
    e.g. a deleted one's racing its deletion, is NotFound and leaves nothing behind."""
    user = User.by_openid(openid)
    if user is None or user.state == DELETED:  # none, or a deleted account's placeholder
        raise NotFound("no such user")
    if user.state == BLOCKED:
        raise Forbidden("this account is blocked")
    return user
