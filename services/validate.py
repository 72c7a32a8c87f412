"""Checks for values that arrive from clients (strings from forms and URLs, JSON of any shape)."""
import re
from decimal import Decimal, InvalidOperation

from services.errors import Invalid

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DB_INT_MAX = 2 ** 63 - 1  # the largest integer a database column (BIGINT, SQLite INTEGER) holds


def text(value, name, max_len, required=True, default=""):
    """A string of at most max_len characters, without control characters (newlines allowed)."""
    if value is None or value == "":
        if required:
            raise Invalid("%s is required" % name)
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("%s must be text" % name)
    value = value.strip()
    if required and not value:
        raise Invalid("%s is required" % name)
    if len(value) > max_len:
        raise Invalid("%s is too long (at most %d characters)" % (name, max_len))
    if _CONTROL.search(value):
        raise Invalid("%s contains control characters" % name)
    return value


def lone_surrogate(value):
    """True when a string anywhere in a parsed JSON value (object keys too) holds a lone UTF-16
    surrogate: JSON may escape one ("\\ud800") and json.loads keeps it, but it is no character,
    so no database, socket or UTF-8 encoder takes it. A proper escaped pair is one character."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def no_lone_surrogate(value, what="the body"):
    """value itself, or Invalid when it holds a lone surrogate (see lone_surrogate)."""
    if lone_surrogate(value):
        raise Invalid("%s contains invalid text (a lone surrogate)" % what)
    return value


def openid(value, name="openid", required=True):
    """An openid-shaped string: letters, digits, - and _, at most 64."""
    if value is None or value == "":
        if required:
            raise Invalid("%s is required" % name)
        return None
    if not isinstance(value, str) or not OPENID.match(value):
        raise Invalid("%s is not a valid openid" % name)
    return value


def integer(value, name, required=True, default=None, low=None, high=None):
    """An int from a number or a numeric string, within [low, high]."""
    if value is None or value == "":
        if required:
            raise Invalid("%s is required" % name)
        return default
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise Invalid("%s must be an integer" % name)
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid("%s must be an integer" % name)
    if (low is not None and number < low) or (high is not None and number > high) \
            or not -DB_INT_MAX - 1 <= number <= DB_INT_MAX:  # SQLite raises OverflowError past it
        raise Invalid("%s is out of range" % name)
    return number


def price(value, name, high):
    """A decimal >= 0 with at most 2 places, at most `high`."""
    if value is None or value == "" or isinstance(value, bool):
        raise Invalid("%s is required" % name)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid("%s must be a number" % name)
    if not number.is_finite() or number < 0:
        raise Invalid("%s must be 0 or more" % name)
    if number > Decimal(str(high)):
        raise Invalid("%s is too large" % name)
    if number != number.quantize(Decimal("0.01")):
        raise Invalid("%s has more than 2 decimal places" % name)
    return number.quantize(Decimal("0.01"))


def choice(value, name, options):
    """An int that must be one of `options`."""
    number = integer(value, name)
    if number not in options:
        raise Invalid("%s must be one of %s" % (name, ", ".join(map(str, options))))
    return number
