"""Moderators: accounts, admin openids, the three announcement slots, and the audit log."""
from peewee import AutoField, CharField, DateTimeField, IntegerField, TextField

from models import BaseModel, utcnow

# Admin.role: an owner also manages the admin accounts; a moderator does everything else.
OWNER, MODERATOR = "owner", "moderator"
ROLES = (OWNER, MODERATOR)


class Admin(BaseModel):
    id = AutoField()
    username = CharField(max_length=64, unique=True)  # services.admin_accounts.normalise_name; binary (m0006)
    passwd = CharField(max_length=255)
    created_at = DateTimeField(default=utcnow)
    session_epoch = IntegerField(default=0)  # +1 ends every session: sign-out, new password (m0006)
    role = CharField(max_length=16, default="owner")  # OWNER or MODERATOR (m0017)

    class Meta:
        table_name = "admin"


class AdminOpenid(BaseModel):
    """Openids that /wx/admin/isAdmin answers 200 for."""
    id = AutoField()
    openid = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "admin_openid"


class AdminNotice(BaseModel):
    """Announcement slots 1..3 on the home page."""
    mid = IntegerField(primary_key=True)
    notice_info = TextField(default="")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "admin_notice"


class AdminAction(BaseModel):
    """Audit log: who did what to which target, when and why."""
    id = AutoField()
    actor = CharField(max_length=64)
    action = CharField(max_length=32)
    target = CharField(max_length=64)
    reason = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    old_value = CharField(max_length=32, default="")  # e.g. the user state before a block (m0003)
    new_value = CharField(max_length=32, default="")

    class Meta:
        table_name = "admin_action"
        indexes = ((("created_at",), False),)


def record(actor, action, target, reason="", old="", new=""):
    """Append one line to the audit log (inside the change's own transaction, so a change and
    its audit line commit together or not at all)."""
    AdminAction.create(actor=actor[:64], action=action[:32], target=str(target)[:64],
                       reason=reason or "", old_value=str(old)[:32], new_value=str(new)[:32])


