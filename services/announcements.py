"""Announcements: the three text slots of the mini-program's home page, set by moderators."""
from models import utcnow, write_txn
from models.admin import AdminNotice, record
from services import validate

SLOTS = (1, 2, 3)
NOTICE_CHARS = 1000


def current():
    """/admin/getNotice's extend: always Info1, Info2 and Info3 (empty noticeInfo when unset)."""
    stored = {n.mid: n.notice_info for n in AdminNotice.select().where(AdminNotice.mid.in_(SLOTS))}
    return {"Info%d" % mid: {"noticeInfo": stored.get(mid, "")} for mid in SLOTS}


def update(actor, mid, text, reason=""):
    """Set announcement slot `mid` (1..3); an empty text clears it (audited as notice.clear with
    `reason`). Answers all three slots."""
    mid = validate.choice(mid, "mid", SLOTS)
    text = validate.text(text, "noticeInfo", NOTICE_CHARS, required=False)
    reason = validate.text(reason, "reason", 500, required=False)
    with write_txn():
        old = AdminNotice.get_or_none(AdminNotice.mid == mid)
        if old is None:
            AdminNotice.create(mid=mid, notice_info=text)
        else:
            AdminNotice.update(notice_info=text, updated_at=utcnow()).where(
                AdminNotice.mid == mid).execute()
        record(actor, "notice.update" if text else "notice.clear", "notice:%d" % mid,
               text or reason)
    return current()
