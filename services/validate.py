"""Checks for values that arrive from clients (strings from forms and URLs, JSON of any shape)."""
import re
from decimal import Decimal

from errors import Invalid, Phrase

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DB_INT_MAX = 2 ** 63 - 1  # the largest integer a database column (BIGINT, SQLite INTEGER) holds
# One grammar for every number a client sends (REST arguments, JSON bodies, chat frames and
# query parameters, admin forms): ASCII digits only. Python is far more liberal: str.isdigit()
# says yes to "²" and "①" (which int() then refuses: a 500), and int(), float() and Decimal()
# read "١٢" (Arabic-Indic), "１２" (full-width), "1_000", " 1", "+1" and (float, Decimal)
# "1e3", "nan", "inf". Here an integer is "0" or an optional "-" and digits without a leading
# zero ("-0", "007", "+1", " 1", "1e3", "0x10" are refused); at most 19 digits, so nothing
# huge is ever converted. A price is digits with an optional "." and 1-2 (or more, refused
# with their own message) decimals; leading zeros are kept (a person types it).
INTEGER = re.compile(r"0|-?[1-9][0-9]{0,18}")
DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,12})?")

# What a person calls each field a refusal names (English source text; the Chinese is in
# locale/zh_CN.csv): "请填写商品标题", never "goodsTitle is required". tests/test_locale.py
# checks that every field name the code passes to these checks has a label here.
LABELS = {
    "goodsName": Phrase("item name"), "goodsTitle": Phrase("title"),
    "goodsDec": Phrase("description"), "goodsPriceNew": Phrase("price"),
    "goodsPriceOld": Phrase("original price"), "goodsXueyuan": Phrase("college"),
    "goodsAddress": Phrase("meeting place"), "priceMin": Phrase("lowest price"),
    "priceMax": Phrase("highest price"), "free": Phrase("free items only"),
    "sort": Phrase("sort order"), "keyword": Phrase("search words"), "q": Phrase("search words"),
    "gid": Phrase("listing"), "goodId": Phrase("listing"), "openid": Phrase("user"),
    "fromOpenid": Phrase("sender"), "toOpenid": Phrase("recipient"),
    "peer": Phrase("chat partner"), "beDeleteOpenid": Phrase("conversation to delete"),
    "myOpenid": Phrase("user"), "code": Phrase("login code"), "content": Phrase("content"),
    "info": Phrase("comment"), "inId": Phrase("comment"), "commentId": Phrase("comment"),
    "objId": Phrase("comment"), "flag": Phrase("photo kind"), "file": Phrase("file"),
    "wxname": Phrase("WeChat nickname"), "headImg": Phrase("avatar"), "sex": Phrase("gender"),
    "uname": Phrase("name"), "qq": Phrase("QQ number"), "wx": Phrase("WeChat ID"),
    "school": Phrase("school"), "xuehao": Phrase("student number"), "uclass": Phrase("class"),
    "pageNum": Phrase("page number"), "page": Phrase("page number"), "limit": Phrase("count"),
    "before": Phrase("starting message"), "since": Phrase("starting message"),
    "state": Phrase("state"), "type": Phrase("type"), "reason": Phrase("reason"),
    "targetType": Phrase("what is reported"), "targetId": Phrase("what is reported"),
    "messages": Phrase("chat messages"), "sendTime": Phrase("send time"),
    "saleState": Phrase("sale state"), "seq": Phrase("reported message"),
    "recallSeq": Phrase("message to recall"), "photos": Phrase("photos"),
    "score": Phrase("score"), "buyer": Phrase("buyer"), "keywords": Phrase("wanted words"),
    "maxPrice": Phrase("highest price you pay"), "place": Phrase("place"),
    "handoverId": Phrase("hand-over"), "hid": Phrase("hand-over"), "confirm": Phrase("confirmation"),
    "templateId": Phrase("template"), "templateIds": Phrase("templates"),
    "mid": Phrase("announcement slot"), "noticeInfo": Phrase("announcement text"),
    "text": Phrase("text"), "word": Phrase("word"), "id": Phrase("id"), "url": Phrase("link"),
    "thumb": Phrase("thumbnail"), "username": Phrase("username"), "passwd": Phrase("password"),
    "action": Phrase("action"), "image": Phrase("image"), "comment": Phrase("comment"),
    "reply": Phrase("reply"), "body": Phrase("the request"),
    "version": Phrase("privacy policy version"),
}


def label(name):
    """The field as a person names it (a Phrase, translated with the message)."""
    return LABELS.get(name) or Phrase(name)


def text(value, name, max_len, required=True, default=""):
    """A string of at most max_len characters, without control characters (newlines allowed)."""
    if value is None or value == "":
        if required:
            raise Invalid("%(field)s is required", field=label(name))
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("%(field)s must be text", field=label(name))
    value = value.strip()
    if required and not value:
        raise Invalid("%(field)s is required", field=label(name))
    if len(value) > max_len:
        raise Invalid("%(field)s is too long (at most %(max)d characters)", field=label(name),
                      max=max_len)
    if _CONTROL.search(value):
        raise Invalid("%(field)s contains control characters", field=label(name))
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


def no_lone_surrogate(value, name="body"):
    """value itself, or Invalid when it holds a lone surrogate (see lone_surrogate)."""
    if lone_surrogate(value):
        raise Invalid("%(field)s contains invalid text (a lone surrogate)", field=label(name))
    return value


def openid(value, name="openid", required=True):
    """An openid-shaped string: letters, digits, - and _, at most 64."""
    if value is None or value == "":
        if required:
            raise Invalid("%(field)s is required", field=label(name))
        return None
    if not isinstance(value, str) or not OPENID.match(value):
        raise Invalid("%(field)s is not a valid openid", field=label(name))
    return value


def strict_int(value):
    """The int of a string of the INTEGER grammar, else None (no exception): for numbers that
    are not a client's field (a header, a stored id, a search box that may hold a number)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and INTEGER.fullmatch(value):
        return int(value)
    return None


def integer(value, name, required=True, default=None, low=None, high=None):
    """An int from a JSON integer or a string of the INTEGER grammar, within [low, high]. A
    JSON number with a fraction or an exponent (2.0, 1e3) is refused: a client writes an
    integer without them."""
    if value is None or value == "":
        if required:
            raise Invalid("%(field)s is required", field=label(name))
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = strict_int(value) if isinstance(value, str) else None
        if number is None:
            raise Invalid("%(field)s must be an integer", field=label(name))
    if (low is not None and number < low) or (high is not None and number > high) \
            or not -DB_INT_MAX - 1 <= number <= DB_INT_MAX:  # SQLite raises OverflowError past it
        raise Invalid("%(field)s is out of range", field=label(name))
    return number


def price(value, name, high):
    """A decimal >= 0 with at most 2 places, at most `high`: a JSON number or a string of the
    DECIMAL grammar."""
    if value is None or value == "" or isinstance(value, bool):
        raise Invalid("%(field)s is required", field=label(name))
    if isinstance(value, float):
        value = repr(value)  # 12.5 -> "12.5"; nan, inf, 1e-07, 1e+16 fail the grammar
    elif isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not DECIMAL.fullmatch(value):
        raise Invalid("%(field)s must be a number", field=label(name))
    if value.startswith("-"):  # "-0" too
        raise Invalid("%(field)s must be 0 or more", field=label(name))
    number = Decimal(value)
    if number > Decimal(str(high)):
        raise Invalid("%(field)s is too large", field=label(name))
    if number != number.quantize(Decimal("0.01")):
        raise Invalid("%(field)s has more than 2 decimal places", field=label(name))
    return number.quantize(Decimal("0.01"))


def choice(value, name, options):
    """An int that must be one of `options`."""
    number = integer(value, name)
    if number not in options:
        raise Invalid("%(field)s must be one of %(options)s", field=label(name),
                      options=", ".join(map(str, options)))
    return number
