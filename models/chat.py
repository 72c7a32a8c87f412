"""The conversation list (two rows per pair, one per side) and the chat message store."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow


class ChatList(BaseModel):
    """A row owned by to_openid about the peer from_openid; last_context is the peer's last message.

    `deleteList1` hides the row (`hidden`) and records `cleared_seq`, the newest message of the
    conversation at that moment: the owner sees no message up to it again (m0012)."""
    list_id = AutoField()
    to_openid = CharField(max_length=64)
    from_openid = CharField(max_length=64)
    from_name = CharField(max_length=64, default="")
    from_avatar = CharField(max_length=512, default="")
    from_status = IntegerField(default=0)
    last_context = TextField(default="")
    send_time = DateTimeField(default=utcnow)
    unread = IntegerField(default=0)
    cleared_seq = IntegerField(default=0)
    hidden = IntegerField(default=0)

    class Meta:
        table_name = "chat_list"
        indexes = ((("to_openid", "from_openid"), True), (("to_openid", "send_time"), False))

    @classmethod
    def for_owner(cls, openid):
        """The owner's visible conversations, most recent first."""
        return (cls.select().where(cls.to_openid == openid, cls.hidden == 0)
                .order_by(cls.send_time.desc(), cls.list_id.desc()))


def pair_key(a, b):
    """One key for the conversation of a and b, whichever direction."""
    return a + " " + b if a < b else b + " " + a


class ChatMessage(BaseModel):
    """Every accepted chat message, stored before it is acknowledged (m0012).

    `seq` (the database's autoincrement) is the message's order, the same in every process.
    `recalled_at` (m0022) is set when its sender recalled it: every client is shown a
    placeholder instead, the content stays for moderators (reports) until retention purges it.
    `received` is 1 once the recipient confirmed it (a pong after it was written, or a v2
    `received` receipt). `offline_slot` (1..chat.offline_limit) is set on a message stored while
    the recipient had no live socket and cleared when it is received: its unique key makes the
    offline cap exact under concurrent senders in any number of processes. (from, to, msgId) is
    unique, so a resend is stored once in any process.
    """
    seq = AutoField()
    pair = CharField(max_length=129)
    from_openid = CharField(max_length=64)
    to_openid = CharField(max_length=64)
    content = TextField()
    type = CharField(max_length=16, default="text")
    client_msg_id = CharField(max_length=64, null=True)
    send_time = DateTimeField(default=utcnow)
    received = IntegerField(default=0)
    offline_slot = IntegerField(null=True)
    recalled_at = DateTimeField(null=True)

    class Meta:
        table_name = "chat_message"
        indexes = ((("pair", "seq"), False),
                   (("from_openid", "to_openid", "client_msg_id"), True),
                   (("to_openid", "from_openid", "offline_slot"), True),
                   (("to_openid", "from_openid", "received", "seq"), False),
                   (("send_time",), False))

    @classmethod
    def of_pair(cls, a, b):
        return cls.select().where(cls.pair == pair_key(a, b))


class SafetyNotice(BaseModel):
    """A safety notice shown to `recipient` about its conversation with `sender` on a China
    `day` (m0022): at most one per (recipient, sender, day) in every process (the
    unique key decides); `kind` is the pattern kind that matched (the dashboard counts them)."""
    id = AutoField()
    recipient = CharField(max_length=64)
    sender = CharField(max_length=64)
    day = CharField(max_length=10)
    kind = CharField(max_length=32)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "chat_safety_notice"
        indexes = ((("recipient", "sender", "day"), True), (("day", "kind"), False))
