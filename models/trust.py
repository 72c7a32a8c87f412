"""Trust and reach: WeChat's server token, image checks, user reports, notification grants."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow

OPEN, DISMISSED, ACTIONED = "open", "dismissed", "actioned"


class WechatToken(BaseModel):
    """WeChat's server access token, shared by every process through the database."""
    name = CharField(max_length=32, primary_key=True)
    value = TextField()
    expires_at = DateTimeField()

    class Meta:
        table_name = "wechat_token"


class MediaCheck(BaseModel):
    """An image sent to mediaCheckAsync, waiting for (or decided by) WeChat's callback."""
    id = AutoField()
    trace_id = CharField(max_length=64, unique=True)
    image_id = IntegerField()
    gid = IntegerField(null=True)
    openid = CharField(max_length=64)
    status = CharField(max_length=16, default="pending")
    label = IntegerField(null=True)
    created_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField(null=True)

    class Meta:
        table_name = "media_check"


class Report(BaseModel):
    """A user's report of a listing, a user, a comment or a chat message."""
    id = AutoField()
    reporter = CharField(max_length=64)
    target_type = CharField(max_length=16)
    target_id = CharField(max_length=64)
    reason = TextField()
    context = TextField(default="")
    status = CharField(max_length=16, default=OPEN)
    action = CharField(max_length=16, default="")
    handled_by = CharField(max_length=64, default="")
    created_at = DateTimeField(default=utcnow)
    handled_at = DateTimeField(null=True)

    class Meta:
        table_name = "report"
        indexes = ((("target_type", "target_id", "status"), False),
                   (("status", "id"), False), (("reporter", "created_at"), False))


class NotifyGrant(BaseModel):
    """One-time subscribe-message grants a user accepted, per template."""
    id = AutoField()
    openid = CharField(max_length=64)
    template_id = CharField(max_length=64)
    remaining = IntegerField(default=0)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "notify_grant"
        indexes = ((("openid", "template_id"), True),)


class NotifySent(BaseModel):
    """A chat notice sent to to_openid about from_openid; cleared when to_openid opens the chat."""
    id = AutoField()
    to_openid = CharField(max_length=64)
    from_openid = CharField(max_length=64)
    sent_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "notify_sent"
        indexes = ((("to_openid", "from_openid"), True),)
