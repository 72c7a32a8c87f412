"""The conversation list (two rows per pair, one per side) and the offline-message store."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow


class ChatList(BaseModel):
    """A row owned by to_openid about the peer from_openid; last_context is the peer's last message."""
    list_id = AutoField()
    to_openid = CharField(max_length=64)
    from_openid = CharField(max_length=64)
    from_name = CharField(max_length=64, default="")
    from_avatar = CharField(max_length=512, default="")
    from_status = IntegerField(default=0)
    last_context = TextField(default="")
    send_time = DateTimeField(default=utcnow)
    unread = IntegerField(default=0)

    class Meta:
        table_name = "chat_list"
        indexes = ((("to_openid", "from_openid"), True), (("to_openid", "send_time"), False))

    @classmethod
    def for_owner(cls, openid):
        """The owner's conversations, most recent first."""
        return (cls.select().where(cls.to_openid == openid)
                .order_by(cls.send_time.desc(), cls.list_id.desc()))


class OfflineMessage(BaseModel):
    """A message kept for an offline recipient until it is written to one of their sockets.

    `slot` (1..offline_limit) with its unique key makes the cap exact under concurrent senders in
    any number of processes: the database, not a count, decides who gets the last slot.
    """
    message_id = AutoField()
    from_openid = CharField(max_length=64)
    to_openid = CharField(max_length=64)
    content = TextField()
    type = CharField(max_length=16, default="text")
    client_msg_id = CharField(max_length=64, null=True)
    slot = IntegerField()
    send_time = DateTimeField(default=utcnow)

    class Meta:
        table_name = "offline_message"
        indexes = ((("to_openid", "from_openid", "slot"), True),
                   (("from_openid", "to_openid", "client_msg_id"), True),  # m0009
                   (("to_openid", "message_id"), False))
