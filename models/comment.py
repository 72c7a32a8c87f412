"""Two-level comments on listings, likes on comments, and the notice inbox they feed."""
from peewee import AutoField, BooleanField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow

# Notice.type
NOTICE_COMMENT, NOTICE_LIKE = 0, 1
# a listing about to expire ("still selling?", to its owner), a price drop (to favouriters)
NOTICE_EXPIRY, NOTICE_PRICE_DROP = 2, 3


class Comment(BaseModel):
    in_id = AutoField()
    gid = IntegerField()
    from_openid = CharField(max_length=64)
    content = TextField()
    create_time = DateTimeField(default=utcnow)
    hidden = BooleanField(default=False)
    hold_reason = CharField(max_length=255, default="")  # why a content check holds it

    class Meta:
        table_name = "comment"
        indexes = ((("gid", "in_id"), False),)


class Reply(BaseModel):
    rid = AutoField()
    comment_id = IntegerField()
    from_openid = CharField(max_length=64)
    to_openid = CharField(max_length=64)
    content = TextField()
    create_time = DateTimeField(default=utcnow)
    hidden = BooleanField(default=False)
    hold_reason = CharField(max_length=255, default="")  # why a content check holds it

    class Meta:
        table_name = "reply"
        indexes = ((("comment_id", "rid"), False),)


class Liked(BaseModel):
    id = AutoField()
    openid = CharField(max_length=64)
    obj_id = IntegerField()
    type = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "liked"
        indexes = ((("openid", "obj_id", "type"), True), (("obj_id", "type"), False))


class Notice(BaseModel):
    """One line of a user's inbox: someone commented, replied or liked."""
    id = AutoField()
    openid = CharField(max_length=64)
    type = IntegerField()
    actor_openid = CharField(max_length=64)
    gid = IntegerField(null=True)
    obj_id = IntegerField(null=True)
    content = TextField(default="")
    send_time = DateTimeField(default=utcnow)
    read = BooleanField(default=False)

    class Meta:
        table_name = "notice"
        indexes = ((("openid", "type", "read", "id"), False),)
