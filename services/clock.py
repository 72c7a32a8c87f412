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
