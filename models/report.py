"""User reports of a listing, a user, a comment or a chat message."""
from peewee import AutoField, CharField, DateTimeField, TextField

from models import BaseModel, utcnow

OPEN, DISMISSED, ACTIONED = "open", "dismissed", "actioned"


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
                   (("status", "id"), False), (("reporter", "created_at"), False),
                   (("created_at",), False))  # m0017: the dashboard's reports per day

    @classmethod
    def close_open(cls, kind, target_id, actor):
        """The open reports of a target a moderator just removed are closed as actioned."""
        return cls.update(status=ACTIONED, action="take_down", handled_by=actor,
                          handled_at=utcnow()).where(cls.target_type == kind,
                                                     cls.target_id == str(target_id),
                                                     cls.status == OPEN).execute()
