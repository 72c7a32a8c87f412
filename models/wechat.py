"""WeChat's side of the data: the shared server access token and the images sent to its check."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow


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
