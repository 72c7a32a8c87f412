"""Times as the mini-program shows them: China time (UTC+8, no daylight saving), to the second."""
import datetime
import time

CHINA = datetime.timezone(datetime.timedelta(hours=8), "CST")


def display(dt):
    """'YYYY-MM-DD HH:MM:SS' in China time for a naive-UTC datetime (or '' for None)."""
    if dt is None:
        return ""
    if isinstance(dt, str):
        return dt[:19]
    return dt.replace(tzinfo=datetime.timezone.utc).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


_last = [None, ""]


def display_now():
    """display(utcnow()), formatted once per second (a chat frame's sendTime)."""
    second = int(time.time())
    if _last[0] != second:
        _last[0] = second
        _last[1] = datetime.datetime.fromtimestamp(second, CHINA).strftime("%Y-%m-%d %H:%M:%S")
    return _last[1]


# -- the clock of the listings' life (expiry, reminders, one alert a day) ------------------------
_offset = [datetime.timedelta(0)]


def now():
    """Naive-UTC now, as models.utcnow, plus the offset a test set (travel): the expiry and
    reminder sweep, renewals and the once-a-day price alerts read this."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + _offset[0]


def china_day(dt=None):
    """The China-time date of a naive-UTC datetime (default now())."""
    dt = now() if dt is None else dt
    return dt.replace(tzinfo=datetime.timezone.utc).astimezone(CHINA).date()


def travel(**delta):
    """Tests: move now() forward by a timedelta's arguments (days=91); travel() resets it."""
    _offset[0] = datetime.timedelta(**delta) if delta else datetime.timedelta(0)
