"""Disputes about a confirmed hand-over (m0018): opened by the buyer or the
seller, decided by a moderator. One per hand-over (a unique key): while it is open both ratings
of the hand-over are held; upheld, the ratings the party at fault gave are removed and the sale
is not counted; dismissed, everything shows again."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow

# Dispute.state
DISPUTE_OPEN, DISPUTE_UPHELD, DISPUTE_DISMISSED = 0, 1, 2
STATE_NAMES = {DISPUTE_OPEN: "open", DISPUTE_UPHELD: "upheld", DISPUTE_DISMISSED: "dismissed"}


class Dispute(BaseModel):
    """A party's complaint about hand-over `handover_id`, and a moderator's decision."""
    id = AutoField()
    handover_id = IntegerField(unique=True)    # one dispute per hand-over, ever
    opener = CharField(max_length=64)          # the buyer or the seller who opened it
    opener_role = CharField(max_length=8)      # "buyer" or "seller" (kept if openids change)
    reason = TextField()
    photos = TextField(default="")             # the opener's chat uploads, names " "-separated
    hold_reason = CharField(max_length=255, default="")  # WeChat unsure (moderators see it)
    state = IntegerField(default=DISPUTE_OPEN)
    fault = CharField(max_length=8, default="")          # upheld: "buyer" or "seller"
    decided_by = CharField(max_length=64, default="")
    decision_reason = CharField(max_length=500, default="")
    created_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField(null=True)

    class Meta:
        table_name = "dispute"
        indexes = ((("state", "id"), False),)

    @classmethod
    def held(cls):
        """Hand-over ids whose ratings are held (an open dispute): a subquery."""
        return cls.select(cls.handover_id).where(cls.state == DISPUTE_OPEN)

    @classmethod
    def uncounted(cls):
        """Hand-over ids that count as no sale (a dispute open or upheld): a subquery."""
        return cls.select(cls.handover_id).where(cls.state != DISPUTE_DISMISSED)
