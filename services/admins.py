"""Admin accounts: argon2-hashed passwords, checked off the IOLoop (hashing is slow on purpose)."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import IntegrityError

from models import db
from models.admin import Admin
from services.errors import Conflict, Invalid

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("timing-equaliser")


def create_admin(username, password):
    """A new admin account; Conflict if the name is taken."""
    if not username or len(username) > 64:
        raise Invalid("username must be 1-64 characters")
    if len(password) < 8:
        raise Invalid("password must be at least 8 characters")
    try:
        with db.atomic():
            return Admin.create(username=username, passwd=_hasher.hash(password))
    except IntegrityError:
        raise Conflict("admin %s already exists" % username)


def check_password(username, password):
    """True when the name and password match an admin (same cost whether or not the name exists)."""
    admin = Admin.get_or_none(Admin.username == username)
    try:
        return bool(_hasher.verify(admin.passwd if admin else _DUMMY, password or "")) and bool(admin)
    except (VerificationError, InvalidHashError):
        return False
