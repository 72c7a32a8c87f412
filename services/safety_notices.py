"""The safety notices shown: one row per (recipient, sender, China day), written only
when a notice is sent, so "once per conversation per day" holds in every process and the
dashboard can count them. On the database executor; the matcher is services/safety.py."""
from peewee import fn

from models import db, is_mysql, utcnow, write_txn
from models.chat import SafetyNotice


def claim(recipient, sender, day, kind):
    """True when this call may show `recipient` the notice of `day` about `sender` (its row is
    written now); False when one was already shown (by any process: the unique key decides)."""
    p = db.obj.param
    sql = ("%s INTO chat_safety_notice (recipient, sender, day, kind, created_at)"
           " VALUES (%s)" % ("INSERT IGNORE" if is_mysql() else "INSERT OR IGNORE",
                            ", ".join([p] * 5)))
    with write_txn():
        cursor = db.execute_sql(sql, (recipient, sender, day, kind,
                                      str(utcnow().replace(microsecond=0))))
        return cursor.rowcount == 1


def release(recipient, sender, day):
    """No live socket took the notice: forget it, so the next message (or the recipient
    opening the conversation) shows it."""
    with write_txn():
        SafetyNotice.delete().where(SafetyNotice.recipient == recipient,
                                    SafetyNotice.sender == sender,
                                    SafetyNotice.day == day).execute()


def shown_today(recipient, sender, day):
    """True when `recipient` was shown the notice of `day` about `sender` (tests, diagnostics)."""
    return SafetyNotice.select().where(SafetyNotice.recipient == recipient,
                                       SafetyNotice.sender == sender,
                                       SafetyNotice.day == day).exists()


def per_day(days):
    """Notices shown on each China day of `days` ('YYYY-MM-DD', oldest first): {"total": [n per
    day], "kinds": {kind: [n per day]}} (the dashboard)."""
    rows = (SafetyNotice.select(SafetyNotice.day, SafetyNotice.kind, fn.COUNT(SafetyNotice.id))
            .where(SafetyNotice.day >= days[0], SafetyNotice.day <= days[-1])
            .group_by(SafetyNotice.day, SafetyNotice.kind).tuples())
    index = {d: i for i, d in enumerate(days)}
    total, kinds = [0] * len(days), {}
    for day, kind, n in rows:
        total[index[day]] += n
        kinds.setdefault(kind, [0] * len(days))[index[day]] += n
    return {"total": total, "kinds": kinds}
