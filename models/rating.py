"""Hand-overs of a listing from its seller to a buyer, and the ratings they allow (m0016)."""
from peewee import AutoField, BooleanField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow

# HandOver.state
HANDOVER_PROPOSED, HANDOVER_CONFIRMED = 0, 1


class HandOver(BaseModel):
    """The seller marked listing `gid` sold to `buyer` (someone they chatted with); confirmed
    once the buyer agrees. One per listing. Only a confirmed one allows ratings."""
    id = AutoField()
    gid = IntegerField(unique=True)
    seller = CharField(max_length=64)
    buyer = CharField(max_length=64)
    state = IntegerField(default=HANDOVER_PROPOSED)
    created_at = DateTimeField(default=utcnow)
    confirmed_at = DateTimeField(null=True)

    class Meta:
        table_name = "hand_over"
        indexes = ((("seller", "state"), False), (("buyer", "state"), False),
                   (("state", "confirmed_at"), False))


class Rating(BaseModel):
    """One party's rating of the other after a confirmed hand-over: once per (hand-over, rater)."""
    id = AutoField()
    handover_id = IntegerField()
    rater = CharField(max_length=64)
    ratee = CharField(max_length=64)
    score = IntegerField()
    text = TextField(default="")
    hold_reason = CharField(max_length=255, default="")   # held by a content check
    removed = BooleanField(default=False)                 # removed by a moderator
    removed_reason = CharField(max_length=500, default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "rating"
        indexes = ((("handover_id", "rater"), True), (("ratee", "removed", "id"), False))
