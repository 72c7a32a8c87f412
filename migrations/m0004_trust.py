"""Trust and reach: server token, image checks, reports, notification grants; held listings and
hidden images. Frozen: the model classes below are this migration's own copies."""
from peewee import (AutoField, BooleanField, CharField, DateTimeField, IntegerField, Model,
                    TextField)
from playhouse.migrate import migrate

from models import is_mysql


class WechatToken(Model):
    name = CharField(max_length=32, primary_key=True)
    value = TextField()
    expires_at = DateTimeField()

    class Meta:
        table_name = "wechat_token"


class MediaCheck(Model):
    id = AutoField()
    trace_id = CharField(max_length=64, unique=True)
    image_id = IntegerField()
    gid = IntegerField(null=True)
    openid = CharField(max_length=64)
    status = CharField(max_length=16)
    label = IntegerField(null=True)
    created_at = DateTimeField()
    decided_at = DateTimeField(null=True)

    class Meta:
        table_name = "media_check"


class Report(Model):
    id = AutoField()
    reporter = CharField(max_length=64)
    target_type = CharField(max_length=16)
    target_id = CharField(max_length=64)
    reason = TextField()
    context = TextField()
    status = CharField(max_length=16)
    action = CharField(max_length=16)
    handled_by = CharField(max_length=64)
    created_at = DateTimeField()
    handled_at = DateTimeField(null=True)

    class Meta:
        table_name = "report"
        indexes = ((("target_type", "target_id", "status"), False),
                   (("status", "id"), False), (("reporter", "created_at"), False))


class NotifyGrant(Model):
    id = AutoField()
    openid = CharField(max_length=64)
    template_id = CharField(max_length=64)
    remaining = IntegerField()
    updated_at = DateTimeField()

    class Meta:
        table_name = "notify_grant"
        indexes = ((("openid", "template_id"), True),)


class NotifySent(Model):
    id = AutoField()
    to_openid = CharField(max_length=64)
    from_openid = CharField(max_length=64)
    sent_at = DateTimeField()

    class Meta:
        table_name = "notify_sent"
        indexes = ((("to_openid", "from_openid"), True),)


TABLES = [WechatToken, MediaCheck, Report, NotifyGrant, NotifySent]


def up(database, migrator):
    """Create the new tables; add goods.hold_reason and image.hidden."""
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    for model in TABLES:
        with model.bind_ctx(database):
            model._meta.table_settings = settings if is_mysql(database) else []
            model.create_table(safe=False)
    migrate(
        migrator.add_column("goods", "hold_reason", CharField(max_length=255, default="")),
        migrator.add_column("image", "hidden", BooleanField(default=False)),
    )
