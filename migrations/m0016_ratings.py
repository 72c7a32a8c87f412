"""Hand-overs and ratings: hand_over (a listing marked sold to a buyer the
seller chatted with, confirmed by the buyer) and rating (once each way per hand-over). Frozen:
the models below are this migration's own copies."""
from peewee import (AutoField, BooleanField, CharField, DateTimeField, IntegerField, Model,
                    TextField)

from models import is_mysql


class HandOver(Model):
    id = AutoField()
    gid = IntegerField(unique=True)
    seller = CharField(max_length=64)
    buyer = CharField(max_length=64)
    state = IntegerField(default=0)
    created_at = DateTimeField()
    confirmed_at = DateTimeField(null=True)

    class Meta:
        table_name = "hand_over"
        indexes = ((("seller", "state"), False), (("buyer", "state"), False),
                   (("state", "confirmed_at"), False))


class Rating(Model):
    id = AutoField()
    handover_id = IntegerField()
    rater = CharField(max_length=64)
    ratee = CharField(max_length=64)
    score = IntegerField()
    text = TextField()
    hold_reason = CharField(max_length=255, default="")
    removed = BooleanField(default=False)
    removed_reason = CharField(max_length=500, default="")
    created_at = DateTimeField()

    class Meta:
        table_name = "rating"
        indexes = ((("handover_id", "rater"), True), (("ratee", "removed", "id"), False))


def up(database, migrator):
    """Create hand_over and rating."""
    settings = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]
    for model in (HandOver, Rating):
        with model.bind_ctx(database):
            model._meta.table_settings = settings if is_mysql(database) else []
            model.create_table(safe=False)
