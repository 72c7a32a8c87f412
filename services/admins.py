"""Admin accounts: argon2-hashed passwords, checked off the IOLoop (hashing is slow on purpose)."""
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import IntegrityError

from models import db
from models.admin import Admin
from services.errors import Conflict, Invalid, TooMany

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


def admin_exists(username):
    """True while this admin account exists (a removed account ends its sessions)."""
    return Admin.select().where(Admin.username == username).exists()


def list_admins():
    """[{username, created_at}] of every admin account, oldest first."""
    return [{"username": a.username, "created_at": a.created_at}
            for a in Admin.select().order_by(Admin.id)]


class SignInThrottle:
    """Slows repeated failed sign-ins per address and per username (kept in this process).

    After `free` failures within `window` seconds, each further attempt must wait
    2**(failures - free) seconds (at most `cap`) after the last failure; until then it is refused.
    """

    def __init__(self, free_user=5, free_address=20, window=900, cap=300, max_keys=10_000):
        self.free = {"user": free_user, "address": free_address}
        self.window, self.cap, self.max_keys = window, cap, max_keys
        self.failures = {}  # (kind, key) -> (count, last failure time)

    def wait_seconds(self, address, username, now=None):
        """Seconds the caller must still wait before trying again (0 = may try now)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for k in (("address", address), ("user", (username or "").lower())):
            count, last = self.failures.get(k, (0, 0.0))
            if now - last > self.window:
                continue
            over = count - self.free[k[0]]
            if over >= 0:
                wait = max(wait, min(2.0 ** over, self.cap) - (now - last))
        return max(0.0, wait)

    def check(self, address, username, now=None):
        """Raise TooMany while the address or the username is being slowed down."""
        wait = self.wait_seconds(address, username, now)
        if wait > 0:
            raise TooMany("too many failed sign-ins: try again in %d s" % (int(wait) + 1))

    def failed(self, address, username, now=None):
        """Count one failed attempt against the address and the username."""
        now = time.monotonic() if now is None else now
        if len(self.failures) >= self.max_keys:
            self.failures = {k: v for k, v in self.failures.items() if now - v[1] <= self.window}
        for k in (("address", address), ("user", (username or "").lower())):
            count, last = self.failures.get(k, (0, 0.0))
            self.failures[k] = (count + 1 if now - last <= self.window else 1, now)

    def succeeded(self, address, username):
        """A correct password clears the username's failures (the address keeps its own)."""
        self.failures.pop(("user", (username or "").lower()), None)
