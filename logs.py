"""Logging of the process: stderr (the journal under systemd, `docker logs` in a container),
as text lines or one JSON object a line (`logging.format`), credentials redacted, and each
request's id on every line logged while it is handled.

The request id is nginx's `X-Request-Id` when it sends a sane one (deploy/nginx-market.conf sets
it to `$request_id`), else 32 random hex digits; the answer carries it back in `X-Request-Id`
(handlers/base.py), the access line and every line logged during the request show it.
"""
import contextvars
import json
import logging
import re
import secrets
import sys
import time

# The id of the request being handled in this context (a handler's task, and the database
# threads it calls through run_db); "-" outside any request.
REQUEST_ID = contextvars.ContextVar("request_id", default="-")
SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")  # nginx's $request_id: 32 hex
HEADER = "X-Request-Id"


def request_id(request):
    """The id of this request (set once per request: the client's sane X-Request-Id, or new)."""
    rid = getattr(request, "request_id", None)
    if rid is None:
        given = request.headers.get(HEADER, "")
        rid = given if SANE_ID.match(given) else secrets.token_hex(16)
        request.request_id = rid
    return rid


class RedactSecrets(logging.Filter):
    """Blank query values that are credentials: Tornado's own warnings (uncaught errors) print
    the request URI with its query, and a client may send ?token=, ?code= or an admin's
    ?passwd= there (`s` is the signature of a private photo's URL)."""

    NAMES = ("token", "access_token", "refresh_token", "code", "secret", "password", "passwd",
             "pwd", "session_key", "sign", "signature", "s", "ticket")
    PATTERN = re.compile(r"([?&](?:%s)=)[^&\s'\",:)]*" % "|".join(NAMES), re.IGNORECASE)

    def filter(self, record):
        message = record.getMessage()
        if "=" in message:
            record.msg, record.args = self.PATTERN.sub(r"\1[redacted]", message), ()
        return True


class AddRequestId(logging.Filter):
    """Give every record the request id of its context (unless the caller passed one)."""

    def filter(self, record):
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """`2026-12-01 11:32:17,660 INFO tornado.access: 401 GET /x user=- 127.0.0.1 3.1ms rid=…`"""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record):
        line = super().formatMessage(record)
        rid = getattr(record, "request_id", "-")
        return line if rid == "-" else line + " rid=" + rid


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, msg, request_id, the
    access line's fields under `http`, and a traceback under `exc`."""

    def format(self, record):
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
               + ".%03dZ" % record.msecs,
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        rid = getattr(record, "request_id", "-")
        if rid != "-":
            out["request_id"] = rid
        if getattr(record, "http", None):
            out["http"] = record.http
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def setup(level, fmt="text", stream=None):
    """Log to stderr at `level` (server.log_level) in `fmt` (logging.format: text | json)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactSecrets())
    handler.addFilter(AddRequestId())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
