"""Want-to-buy posts (求购) and their match keys (m0015)."""
from peewee import (AutoField, CharField, DateField, DateTimeField, DecimalField, IntegerField)

from models import BaseModel, utcnow

# WantedPost.state
WANTED_ACTIVE, WANTED_TAKEN_DOWN, WANTED_DELETED = 0, 1, 2


class WantedPost(BaseModel):
    """What a student wants to buy: words matched against newly approved listings as search
    matches them, an optional price cap and place. Shown on the public board while active, not
    held by a content check (`hold_reason`) and not expired (`expires_at`)."""
    id = AutoField()
    openid = CharField(max_length=64)
    keywords = CharField(max_length=100)
    max_price = DecimalField(max_digits=12, decimal_places=2, null=True)
    place = CharField(max_length=100, default="")
    state = IntegerField(default=WANTED_ACTIVE)
    hold_reason = CharField(max_length=255, default="")
    reason = CharField(max_length=500, default="")   # a moderator's take-down reason
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    notified_on = DateField(null=True)   # China day of the last match notice (one a day)
    matches = IntegerField(default=0)

    class Meta:
        table_name = "wanted_post"
        indexes = ((("openid", "state"), False), (("state", "expires_at"), False))


class WantedKey(BaseModel):
    """One key of a post: the first 4 characters of a stored search token that every listing
    matching the post holds (or holds as a prefix of a longer token). An approved listing looks
    its tokens' keys up here, so only posts that can match are checked."""
    id = AutoField()
    key = CharField(max_length=84)
    wanted_id = IntegerField()

    class Meta:
        table_name = "wanted_key"
        indexes = ((("key", "wanted_id"), True), (("wanted_id",), False))
