"""Admin accounts: argon2-hashed passwords, checked off the IOLoop (hashing is slow on purpose);
one spelling of each name; sessions that end server-side; and the mini-program openids that
see the admin entry (the failed-sign-in throttle, and normalise_name which it keys by, are in
process/ratelimit.py)."""
import re
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import IntegrityError

from models import is_mysql, write_txn
from models.admin import OWNER, ROLES, Admin, AdminOpenid, record
from models.user import User
from process.ratelimit import normalise_name  # kept where the sign-in throttle can use it
from services import validate
from services.clock import display
from errors import Conflict, Forbidden, Invalid, NotFound

CONSOLE = "console"  # the actor of the command line's changes in the audit log

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("timing-equaliser")
# New names: lower-case ASCII letters, digits, . _ - and Chinese characters (CJK ideographs), so
# no two names can look alike (no accents, no Cyrillic or Greek look-alikes, no fullwidth forms:
# those are folded to ASCII by normalise_name first).
NAME = re.compile("^[a-z0-9._\\-\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]{1,64}$")
NAME_RULE = ("username must be 1-64 characters: letters a-z, digits, '.', '_', '-' or Chinese "
             "characters (stored in lower case)")


def _skeleton(name):
    """The name without accents: two names with one skeleton look alike."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _password_ok(password):
    if not isinstance(password, str) or not 8 <= len(password) <= 1024:
        raise Invalid("password must be 8-1024 characters")


def _owners():
    """The owners' names, their rows locked on MySQL (SQLite's IMMEDIATE write transaction
    already serialises writers): call first in an account change's transaction, so two owners
    demoting each other at once cannot leave none, and a demoted owner's change is refused."""
    owners = Admin.select(Admin.username).where(Admin.role == OWNER)
    return [n for (n,) in (owners.for_update() if is_mysql() else owners).tuples()]


def require_owner(actor, owners=None):
    """Forbidden unless `actor` is an owner (or the command line): only owners manage accounts.
    Checked again inside each change, so a demotion at the same moment wins."""
    if actor != CONSOLE and actor not in (_owners() if owners is None else owners):
        raise Forbidden("only owners manage admin accounts")


def _role_ok(role):
    if role not in ROLES:
        raise Invalid("role must be owner or moderator")
    return role


def create_admin(username, password, role=OWNER, actor=None):
    """A new admin account under the normalised name; Conflict if that name is taken. `role`
    is owner by default (the command line's accounts; before roles every admin could do all);
    with an `actor` the creation is audited (admin.create)."""
    name = normalise_name(username)
    if not NAME.match(name):
        raise Invalid(NAME_RULE)
    _password_ok(password)
    _role_ok(role)
    hashed = _hasher.hash(password)  # before the write lock: argon2 takes a while on purpose
    try:
        with write_txn():
            if actor:
                require_owner(actor)
            # an older account may predate NAME (say `rôot`): a new name must not look like it
            for (other,) in Admin.select(Admin.username).tuples():
                if _skeleton(other) == _skeleton(name):
                    raise Conflict("admin %(name)s already exists", name=other)
            created = Admin.create(username=name, passwd=hashed, role=role)
            if actor:
                record(actor, "admin.create", "admin:" + name, new=role)
            return created
    except IntegrityError:
        raise Conflict("admin %(name)s already exists", name=name)


def check_password(username, password):
    """{"username", "epoch"} of the admin whose normalised name and password match, else None
    (same cost whether or not the name exists)."""
    name = normalise_name(username)
    admin = Admin.get_or_none(Admin.username == name) if 0 < len(name) <= 64 else None
    try:
        ok = _hasher.verify(admin.passwd if admin else _DUMMY, password or "")
    except (VerificationError, InvalidHashError):
        return None
    return {"username": admin.username, "epoch": admin.session_epoch} if ok and admin else None


def session_valid(username, epoch):
    """True while the admin exists and has not ended its sessions since `epoch` was handed out
    (sign-out, password change and removal all end them): one lookup on the unique name."""
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not isinstance(username, str):
        return False
    return Admin.select().where((Admin.username == username) &
                                (Admin.session_epoch == epoch)).exists()


def end_sessions(username):
    """End every session (pages cookie and adminLogin token) of this admin, in every process."""
    return Admin.update(session_epoch=Admin.session_epoch + 1).where(
        Admin.username == normalise_name(username)).execute()


def sign_out(username, via):
    """The admin signs out: every session ends and the audit line (admin.logout) is written in
    one transaction."""
    with write_txn():
        end_sessions(username)
        record(username, "admin.logout", via)


def set_password(username, password, actor=None):
    """A new password for the admin; its sessions end. NotFound if there is no such admin.
    With an `actor` it is audited (admin.passwd)."""
    _password_ok(password)
    name, hashed = normalise_name(username), _hasher.hash(password)  # before the write lock
    with write_txn():
        if actor:
            require_owner(actor)
        done = Admin.update(passwd=hashed,
                            session_epoch=Admin.session_epoch + 1).where(
            Admin.username == name).execute()
        if not done:
            raise NotFound("no admin %(name)s", name=name)
        if actor:
            record(actor, "admin.passwd", "admin:" + name)


def role_of(username):
    """The admin's role, or None when there is no such account."""
    return Admin.select(Admin.role).where(Admin.username == username).scalar()


def _changeable(actor, name, force=False):
    """Inside a write transaction: the account `actor` may demote or remove, after the owner
    check; Conflict when it is the last owner (unless `force`), NotFound when there is none."""
    owners = _owners()
    if actor:
        require_owner(actor, owners)
    admin = Admin.get_or_none(Admin.username == name)
    if admin is None:
        raise NotFound("no admin %(name)s", name=name)
    if admin.role == OWNER and owners == [name] and not force:
        raise Conflict("%(name)s is the last owner: make another account owner first",
                       name=name)
    return admin


def set_role(actor, username, role):
    """Make the admin an owner or a moderator; a change of role ends its sessions (audited
    admin.role, old -> new). The last owner cannot be demoted."""
    _role_ok(role)
    name = normalise_name(username)
    with write_txn():
        admin = _changeable(actor, name)
        if admin.role == role:
            return {"username": name, "role": role, "changed": False}
        Admin.update(role=role, session_epoch=Admin.session_epoch + 1).where(
            Admin.username == name).execute()
        record(actor, "admin.role", "admin:" + name, old=admin.role, new=role)
    return {"username": name, "role": role, "changed": True}


def remove_admin(username, actor=None, force=False):
    """Delete the admin account (its sessions end with it). NotFound if there is none;
    Conflict for the last owner unless `force` (the command line's --force). With an `actor`
    it is audited (admin.remove)."""
    name = normalise_name(username)
    with write_txn():
        admin = _changeable(actor, name, force)
        Admin.delete().where(Admin.id == admin.id).execute()
        if actor:
            record(actor, "admin.remove", "admin:" + name, old=admin.role)


def list_admins():
    """[{username, role, created_at}] of every admin account, oldest first."""
    return [{"username": a.username, "role": a.role, "created_at": a.created_at}
            for a in Admin.select().order_by(Admin.id)]


# -- openids that /wx/admin/isAdmin accepts -------------------------------------------------------

def admin_openids():
    """[{id, openid, wxname, created_at}] of the admin openids, oldest first."""
    rows = list(AdminOpenid.select().order_by(AdminOpenid.id))
    names = User.names(r.openid for r in rows)
    return [{"id": r.id, "openid": r.openid, "created_at": display(r.created_at),
             "wxname": names[r.openid].wxname if r.openid in names else ""} for r in rows]


def add_admin_openid(actor, openid):
    """Let this openid see the admin entry of the mini-program."""
    openid = validate.openid(openid)
    try:
        with write_txn():
            AdminOpenid.create(openid=openid)
            record(actor, "openid.add", "user:" + openid)
    except IntegrityError:
        raise Conflict("%(openid)s is already an admin openid", openid=openid)
    return {"openid": openid}


def remove_admin_openid(actor, openid):
    """Take the admin entry away from this openid."""
    openid = validate.openid(openid)
    with write_txn():
        if not AdminOpenid.delete().where(AdminOpenid.openid == openid).execute():
            raise NotFound("%(openid)s is not an admin openid", openid=openid)
        record(actor, "openid.remove", "user:" + openid)
    return {"openid": openid}
