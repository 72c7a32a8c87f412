"""Times as the mini-program shows them: China time (UTC+8, no daylight saving), to the second."""
import datetime

CHINA = datetime.timezone(datetime.timedelta(hours=8), "CST")


def display(dt):
    """'YYYY-MM-DD HH:MM:SS' in China time for a naive-UTC datetime (or '' for None)."""
    if dt is None:
        return ""
    if isinstance(dt, str):
        return dt[:19]
    return dt.replace(tzinfo=datetime.timezone.utc).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
