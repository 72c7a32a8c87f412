"""BaseHandler: the contract's envelope, identity from the token, parameters, database calls."""
import json
import logging

import tornado.web

from services import admins, validate
from services.errors import Forbidden, Invalid, ServiceError, Unauthorized
from services.tokens import verify

log = logging.getLogger("market.http")


class BaseHandler(tornado.web.RequestHandler):
    """JSON API handler: every answer, success or error, is {"code", "msg", "extend"}."""

    def check_xsrf_cookie(self):
        """The API authenticates with bearer tokens, never cookies, so XSRF does not apply."""

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    @property
    def config(self):
        return self.settings["config"]

    async def prepare(self):
        """Per-address limit on every API request (generous: campuses share addresses); an
        admin token whose sessions have ended is refused."""
        self.application.limiter.hit("address", self.request.remote_ip,
                                     self.config["limits"]["per_minute_address"])
        await self.check_admin_session()

    async def check_admin_session(self):
        """An adminLogin token carries its admin's session epoch (`ep`): once the admin signs
        out, changes password or is removed, it is refused (one indexed lookup, admin tokens only).
        A token without `ep` (issued before this check existed) lives out its TTL."""
        try:
            claims = self.claims
        except Unauthorized:
            return  # refused where the handler reads the token, as before
        if claims and claims["role"] == "admin" and "ep" in claims and not await self.run_db(
                admins.session_valid, claims["sub"], claims["ep"]):
            raise Unauthorized("admin session ended, log in again")

    async def run_db(self, fn, *args, **kwargs):
        """Run a service function on the database executor (see docs/architecture.md)."""
        return await self.application.run_db(fn, *args, **kwargs)

    # -- answers ---------------------------------------------------------------------------
    def ok(self, extend=None, msg="success", **top):
        """Answer code 200 with `extend` (and any top-level fields)."""
        self.finish(json.dumps(dict(code=200, msg=msg, extend=extend or {}, **top),
                               ensure_ascii=False, default=str))

    def fail(self, msg, status=200, extend=None):
        """Answer code 100: a refusal the client expects (no more pages, already registered)."""
        self.set_status(status)
        self.finish(json.dumps({"code": 100, "msg": msg, "extend": extend or {}},
                               ensure_ascii=False))

    def write_error(self, status_code, **kwargs):
        """Every error as the envelope; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):
            self.set_status(exc.status)
            msg = exc.msg
        elif isinstance(exc, tornado.web.HTTPError):
            msg = exc.log_message if exc.log_message and status_code < 500 else self._reason
        else:
            msg = "internal error" if status_code >= 500 else self._reason
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"code": 100, "msg": msg}, ensure_ascii=False))

    def log_exception(self, typ, value, tb):
        """Refusals are ordinary: one line, no traceback. Anything else is logged in full."""
        if isinstance(value, ServiceError):
            log.info("%s %s -> %s %s", self.request.method, self.request.path, value.status,
                     value.msg)
        else:
            super().log_exception(typ, value, tb)

    # -- input -----------------------------------------------------------------------------
    def arg(self, name, default=None):
        """A query or form argument as a string (None when absent). Tornado decodes it as strict
        UTF-8, which refuses encoded surrogates (ED A0 80): no lone surrogate gets through."""
        try:
            return self.get_argument(name, default)
        except tornado.web.HTTPError:
            raise Invalid("%s is not valid text" % name)

    def json_body(self):
        """The request body as a JSON object, or Invalid."""
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
            raise Invalid("the body is not valid JSON")
        if not isinstance(body, dict):
            raise Invalid("the body must be a JSON object")
        return validate.no_lone_surrogate(body)  # "\ud800" escaped, or ED A0 80 raw

    # -- identity --------------------------------------------------------------------------
    @property
    def claims(self):
        """The verified token's claims, None when no token was sent, Unauthorized when bad."""
        if not hasattr(self, "_claims"):
            token = None
            header = self.request.headers.get("Authorization", "")
            if header.lower().startswith("bearer "):
                token = header[7:].strip()
            elif self.request.query_arguments.get("token"):
                token = self.get_query_argument("token")
            self._claims = verify(self.config["auth"]["token_secret"], token) if token else None
        return self._claims

    def viewer(self, openid_param=None):
        """Who is looking, for viewer-dependent parts of public reads (None if anonymous)."""
        claims = self.claims
        if claims and claims["role"] == "user":
            return claims["sub"]
        if not self.config["auth"]["require_token"] and openid_param:
            return validate.openid(openid_param, required=False)
        return None

    def caller(self, openid_param):
        """The openid acting in this call: the token's user; `openid_param` must agree with it.

        With auth.require_token off, the parameter is trusted as the original system did.
        """
        if not self.config["auth"]["require_token"] and self.claims is None:
            return validate.openid(openid_param)
        claims = self.claims
        if claims is None:
            raise Unauthorized("login required: send the token")
        if claims["role"] != "user":
            raise Forbidden("a user token is required")
        if openid_param not in (None, "") and openid_param != claims["sub"]:
            raise Forbidden("openid does not match the token")
        return claims["sub"]

    def is_admin(self):
        """True for an admin token (or anyone, when tokens are off: the original's trust)."""
        claims = self.claims
        if claims is not None:
            return claims["role"] == "admin"
        return not self.config["auth"]["require_token"]

    def require_admin(self):
        """The admin's name, or Forbidden."""
        if not self.is_admin():
            if self.claims is None:
                raise Unauthorized("admin login required")
            raise Forbidden("admins only")
        return self.claims["sub"] if self.claims else "anonymous"


class NotFoundHandler(BaseHandler):
    """Unknown paths answer the envelope with 404."""

    def prepare(self):
        raise tornado.web.HTTPError(404, "no such endpoint")
