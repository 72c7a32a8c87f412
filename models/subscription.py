"""Subscriptions: the one-time subscribe-message grants users accepted, and chat notices sent."""
from peewee import AutoField, CharField, DateTimeField, IntegerField

from models import BaseModel, utcnow


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
