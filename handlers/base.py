"""The one handler root and its kinds: every handler derives from AppHandler (identity from the
token, config, the actions' context, database calls, the JSON refusal, one-line refusal logs);
ApiHandler adds the REST envelope and parameters, MarketHandler (every /wx/ marketplace handler)
absolute URLs, filters and list answers, PageHandler the admin pages' session and HTML errors,
and handlers/chat_socket.py's ChatSocketHandler the socket (jupyter_server's
JupyterHandler -> APIHandler shape)."""
import json
import re
import time
import types

import tornado.locale
import tornado.httputil
import tornado.web

import logs
from models import user as user_model
from models.user import STATE_NAMES as USER_STATES
from models.goods import APPROVED, PENDING, REJECTED
from realtime.control import MISSING
from services import admin_accounts, goods, validate
from errors import Forbidden, Invalid, ServiceError, Unauthorized
from services.tokens import verify

LANGUAGES = {"zh": "zh_CN", "en": "en_US"}  # Accept-Language's primary tag -> our locale
MAX_PAGE = 100_000  # the last page number a list accepts (0-based)
QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")  # a language weight


def choose_locale(accept_language, default):
    """The locale code for an Accept-Language header: the first language by preference (q)
    that is Chinese (zh_CN) or English (en_US); `default` (locale.default) when it names
    neither. So Chinese is the default and English is there for a client that asks for it."""
    tags = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):  # RFC 9110 qvalue, ASCII digits only
            weight = params.strip()[2:]
            q = float(weight) if QVALUE.fullmatch(weight) else 0.0
        if tag and q > 0:
            tags.append((-q, i, tag.split("-")[0].strip().lower()))
    for _, _, primary in sorted(tags):
        if primary in LANGUAGES:
            return LANGUAGES[primary]
    return default


class AppHandler(tornado.web.RequestHandler):
    """What every handler shares, REST, page or socket."""

    refusal = None  # why the request was refused: said once, on its access line

    def clear(self):
        """Tornado's reset of the answer (at the start and before an error page), keeping the
        request id: in the X-Request-Id header, and on every line logged while handling it."""
        super().clear()
        rid = logs.request_id(self.request)
        logs.REQUEST_ID.set(rid)
        self.set_header(logs.HEADER, rid)

    @property
    def config(self):
        """The config object (only main.py reads config.yaml and the environment)."""
        return self.settings["config"]

    @property
    def actions(self):
        """The context every action takes first (actions/context.py)."""
        return self.application.actions

    def run_db(self, fn, *args, **kwargs):
        """Run a service function on the database executor (see docs/architecture.md)."""
        return self.application.run_db(fn, *args, **kwargs)

    def page_number(self, name="page", empty_refused=False):
        """The 0-based page number of a list, the one reading of every route (the API's
        `pageNum`, the admin pages' `page`): absent is page 0; empty is page 0 too, or refused
        as required with `empty_refused` (the admin lists with a pager); anything but an
        integer in 0..MAX_PAGE is refused (Invalid, 400)."""
        raw = self.argument(name)
        if raw is None:
            return 0
        return validate.integer(raw, name, required=empty_refused, default=0, low=0,
                                high=MAX_PAGE)

    def argument(self, name):
        """A query or form argument as text, None when absent (text that is not UTF-8: Tornado's
        own 400; ApiHandler says which field)."""
        return self.get_argument(name, None)

    def limit_address(self):
        """The per-address budget every API request and chat handshake spends (generous:
        campuses share addresses)."""
        self.application.limiter.hit("address", self.request.remote_ip,
                                     self.config["limits"]["per_minute_address"])

    def bearer_token(self):
        """The token of `Authorization: Bearer` or `?token=`, or None."""
        header = self.request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        if self.request.query_arguments.get("token"):
            return self.get_query_argument("token")
        return None

    @property
    def claims(self):
        """The verified token's claims, None when no token was sent, Unauthorized when bad."""
        if not hasattr(self, "_claims"):
            token = self.bearer_token()
            self._claims = verify(self.config["auth"]["token_secret"], token) if token else None
        return self._claims

    # -- the reader's language (tornado.locale; locale/zh_CN.csv, loaded in application.py) --
    def get_user_locale(self):
        """zh_CN unless Accept-Language asks for English first (or locale.default says so)."""
        return self.get_browser_locale()

    def get_browser_locale(self, default=None):
        """The locale from Accept-Language: only Chinese or English, never Tornado's en_US
        fallback for a header that names neither (that gets locale.default)."""
        return tornado.locale.get(choose_locale(self.request.headers.get("Accept-Language"),
                                                default or self.config["locale"]["default"]))

    def tr(self, text):
        """A refusal (ServiceError: its template and parameters) or an English text, in the
        reader's language. Texts without a catalogue line stay as they are."""
        if isinstance(text, ServiceError):
            return text.text(self.locale.translate)
        return self.locale.translate(text) if text else text

    # -- identity: the same checks on every route ---------------------------------------------
    def __init_subclass__(cls, **kwargs):
        """A handler customises `first()` and `admit()`, never `prepare()`: prepare runs the
        identity checks every route passes (a streamed upload's own prepare once skipped them,
        and a deleted account's token uploaded; docs/security.md)."""
        super().__init_subclass__(**kwargs)
        if "prepare" in cls.__dict__:
            raise TypeError("%s.prepare: override first() or admit() instead, so the identity "
                            "checks of AppHandler.prepare still run" % cls.__name__)

    async def prepare(self):
        """Every request of every route, in order: `first()` (cheap refusals from the headers:
        the address budget), the identity checks (a token whose login ended is refused, user
        or admin), then `admit()` (what the kind or the handler adds)."""
        try:
            self.first()
            await self.check_identity()
            await self.admit()
        except ServiceError as refusal:
            self.refuse_early(refusal)

    def refuse_early(self, refusal):
        """Answer a refusal of prepare (a streamed upload answers it after its body is in)."""
        raise refusal

    def first(self):
        """Refusals before the identity checks (none by default)."""

    async def admit(self):
        """The handler's own admission after the identity checks (none by default)."""

    async def check_identity(self):
        """A token that names someone must still be a live login: a user token whose epoch is
        not its openid's (deleted account) and an admin token whose session ended are refused
        (401). A token that does not verify is refused where the handler reads it, as before."""
        await self.check_user_session()
        await self.check_admin_session()

    async def check_user_session(self):
        """A user token is refused once its account's logins were ended (deleted account): its
        `ep` (0 when absent) must equal the openid's epoch, cached per process and dropped in
        every process by the bus when it changes (realtime/control.py)."""
        try:
            claims = self.claims
        except Unauthorized:
            return  # refused where the handler reads the token, as before
        if claims and claims["role"] == "user":
            control = self.application.control
            epoch = control.epoch_now(claims["sub"])  # no await in the common case
            if epoch is MISSING:
                epoch = await control.epoch(claims["sub"])
            if claims.get("ep", 0) != epoch:
                raise Unauthorized("this login has ended, log in again")
            # the IP region of the account's latest request (at most once per N minutes)
            self.application.ip_recorder.note(claims["sub"], self.request.remote_ip)

    async def check_admin_session(self):
        """An adminLogin token carries its admin's session epoch (`ep`): once the admin signs
        out, changes password or is removed, it is refused (one indexed lookup, admin tokens only).
        A token without `ep` (issued before this check existed) lives out its TTL."""
        try:
            claims = self.claims
        except Unauthorized:
            return  # refused where the handler reads the token, as before
        if claims and claims["role"] == "admin" and "ep" in claims and not await self.run_db(
                admin_accounts.session_valid, claims["sub"], claims["ep"]):
            raise Unauthorized("admin session ended, log in again")

    def write_error(self, status_code, **kwargs):
        """A refusal before any kind answered (a static file, the socket's handshake) is the
        JSON refusal; the kinds override this."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):
            return self.write_refusal(exc.status, exc)
        super().write_error(status_code, **kwargs)

    def write_refusal(self, status, msg):
        """The JSON refusal {"code": 100, "msg"} with `status` (REST errors, socket handshakes);
        `msg` (English text or a ServiceError) is translated for the reader."""
        # said once, on the request's access line (English, for operators)
        self.refusal = msg.msg if isinstance(msg, ServiceError) else str(msg)
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"code": 100, "msg": self.tr(msg)}, ensure_ascii=False))

    def log_exception(self, typ, value, tb):
        """Refusals (ours, and Tornado's own 4xx) are ordinary: no line of their own, the reason
        goes on the request's one access line. Anything else is logged in full (with the id)."""
        if isinstance(value, ServiceError):
            self.refusal = value.msg
        elif isinstance(value, tornado.web.HTTPError) and value.status_code < 500:
            self.refusal = (value.log_message % value.args if value.log_message and value.args
                            else value.log_message) or value.reason or \
                tornado.httputil.responses.get(value.status_code, "refused")
        else:
            super().log_exception(typ, value, tb)


class ApiHandler(AppHandler):
    """JSON API handler: every answer, success or error, is {"code", "msg", "extend"}."""

    def check_xsrf_cookie(self):
        """The API authenticates with bearer tokens, never cookies, so XSRF does not apply."""

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def first(self):
        """The per-address limit on every API request (before the identity checks' lookups)."""
        self.limit_address()

    # -- answers ---------------------------------------------------------------------------
    def ok(self, extend=None, msg="success", **top):
        """Answer code 200 with `extend` (and any top-level fields); `msg` is translated (the
        default "success" is a status word and stays as it is)."""
        msg = msg if msg == "success" else self.tr(msg)
        self.finish(json.dumps(dict(code=200, msg=msg, extend=extend or {}, **top),
                               ensure_ascii=False, default=str))

    def fail(self, msg, status=200, extend=None):
        """Answer code 100: a refusal the client expects (no more pages, already registered);
        `msg` is English text (translated here) or a ServiceError."""
        self.set_status(status)
        self.finish(json.dumps({"code": 100, "msg": self.tr(msg), "extend": extend or {}},
                               ensure_ascii=False))

    def write_error(self, status_code, **kwargs):
        """Every error as the envelope; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):
            status_code, msg = exc.status, exc
            if getattr(exc, "retry_after", None):
                self.set_header("Retry-After", str(exc.retry_after))
        elif isinstance(exc, tornado.web.HTTPError):
            msg = self._reason
            if exc.log_message and status_code < 500:
                msg = self.tr(exc.log_message)  # "Missing argument %s": the template first
                try:
                    msg = msg % exc.args if exc.args else msg
                except (TypeError, ValueError):
                    msg = exc.log_message % exc.args
        else:
            msg = "internal error" if status_code >= 500 else self._reason
        self.write_refusal(status_code, msg)

    # -- input -----------------------------------------------------------------------------
    def arg(self, name, default=None):
        """A query or form argument as a string (None when absent). Tornado decodes it as strict
        UTF-8, which refuses encoded surrogates (ED A0 80): no lone surrogate gets through."""
        try:
            return self.get_argument(name, default)
        except tornado.web.HTTPError:
            raise Invalid("%(field)s is not valid text", field=validate.label(name))

    def argument(self, name):
        """The API's reading of an argument (see arg)."""
        return self.arg(name)

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


class MarketHandler(ApiHandler):
    """Shared by the marketplace handlers: absolute URLs, filters, list answers."""

    @property
    def base(self):
        """The scheme and host of absolute URLs: server.public_url, never the request's Host
        (a client-chosen Host would make answers, and WeChat's image check, point elsewhere)."""
        return self.application.public_url

    def filters(self):
        """Newer clients' optional filters and sort (priceMin, priceMax, free, goodsXueyuan,
        goodsAddress, sort); None when none is sent."""
        return goods.search_filters(self.arg, self.config["goods"]["max_price"])

    @property
    def page_size(self):
        return self.config["goods"]["page_size"]

    def owner(self, openid_param):
        """The caller for an owner-only call; None when tokens are off and no openid is named
        (the review-status pages send only gid: that mode trusts the caller, as the original)."""
        if self.claims is None and not self.config["auth"]["require_token"] \
                and openid_param in (None, ""):
            return None
        return self.caller(openid_param)

    def answer_list(self, items, empty="no more goods"):
        """extend as {"0": item, "1": …} in order; code 100 when the page is empty."""
        if not items:
            self.fail(empty)
        else:
            self.ok({str(i): item for i, item in enumerate(items)})

    async def blocker(self):
        """The token's user when they block someone, else None: the public lists leave the
        blocked owners out in their query (models.account.UserBlock.not_blocked_by), so every
        page is full; everyone else (almost everyone) gets the shared fast plan. The cached
        set (realtime/control.py) only decides whether to ask."""
        try:
            claims = self.claims
        except ServiceError:  # a bad token does not make a public read fail
            return None
        if not claims or claims["role"] != "user":
            return None
        return claims["sub"] if await self.application.control.blocked_by(claims["sub"]) \
            else None


# -- the admin pages' kind ------------------------------------------------------------------
COOKIE = "market_admin"
CSP = ("default-src 'none'; img-src 'self' data: https:; style-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SAFE_NEXT = re.compile(r"^/admin(/[A-Za-z0-9_\-/.?=&%+]*)?$")
DONE = {  # ?ok= codes after a redirect: fixed texts, never text from the request
    "approved": "Listing approved.", "rejected": "Listing rejected; the seller can read why.",
    "deleted": "Listing taken down.", "restored": "Listing restored.",
    "verify": "User verified.", "reject": "Verification rejected.",
    "block": "User blocked; their chat connections were closed.", "unblock": "User unblocked.",
    "notice": "Announcement saved.", "broadcast": "Broadcast sent.", "openid": "Admin openids updated.",
    "banner": "Banners updated.", "dismiss": "Reports dismissed.",
    "take_down": "Content taken down.", "released": "Released: visible again.",
    "hide": "Word hidden from the hot words.", "show": "Word shown again.",
    "approved_many": "Selected listings approved.", "rejected_many": "Selected listings rejected.",
    "none": "Nothing was selected.", "verify_many": "Selected users verified.",
    "reject_many": "Selected verifications rejected.",
    "upheld": "Dispute upheld; both parties were told.",
    "dismissed": "Dispute dismissed; the ratings show again and both parties were told.",
}


def safe_next(value, default="/admin/"):
    """Only a path inside /admin/ (never //host or a scheme): no open redirect."""
    if value and SAFE_NEXT.match(value) and "//" not in value and ".." not in value:
        return value
    return default


def state_name(state):
    """A user state as the pages name it (models.user.STATE_NAMES)."""
    return USER_STATES.get(state, str(state))


def goods_state(state):
    """A listing state as the pages name it."""
    return {PENDING: "pending", APPROVED: "approved", REJECTED: "rejected"}.get(state, str(state))


# the states by name in templates (never a literal 3 or 10): USER.PENDING, GOODS.APPROVED, and the
# order the pages' state filters list them in
USER = types.SimpleNamespace(UNVERIFIED=user_model.UNVERIFIED, VERIFIED=user_model.VERIFIED,
                             REJECTED=user_model.REJECTED, PENDING=user_model.PENDING,
                             BLOCKED=user_model.BLOCKED, DELETED=user_model.DELETED)
GOODS = types.SimpleNamespace(PENDING=PENDING, APPROVED=APPROVED, REJECTED=REJECTED)
USER_STATE_ORDER = (USER.PENDING, USER.UNVERIFIED, USER.VERIFIED, USER.REJECTED, USER.BLOCKED,
                    USER.DELETED)
GOODS_STATE_ORDER = (PENDING, APPROVED, REJECTED)


class PageHandler(AppHandler):
    """HTML page of the admin site; `self.current_user` is the signed-in admin's name or None.
    Tornado's XSRF check runs on every POST, errors render as HTML, templates autoescape."""

    def set_default_headers(self):
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")

    async def admit(self):
        """Read the session (Tornado has already refused a POST without a valid XSRF token)."""
        self.current_user = await self._session_user()

    async def _session_user(self):
        hours = self.config["admin"]["session_hours"]
        raw = self.get_signed_cookie(COOKIE, max_age_days=hours / 24.0, min_version=2)
        try:
            data = json.loads(raw) if raw else {}
            username, epoch, expires = data and (data["u"], data["e"], float(data["exp"]))
        except (ValueError, TypeError, KeyError):
            return None
        if not username or expires < time.time():
            return None
        # ended server-side (sign-out, new password, account removed) in any process
        return username if await self.run_db(admin_accounts.session_valid, username, epoch) else None

    def start_session(self, username, epoch):
        """Set the signed, HttpOnly, SameSite=Strict session cookie (Secure over https)."""
        expires = time.time() + self.config["admin"]["session_hours"] * 3600
        self.set_signed_cookie(COOKIE, json.dumps({"u": username, "e": epoch, "exp": int(expires)}),
                               expires_days=None, httponly=True, samesite="Strict",
                               secure=self.request.protocol == "https", path="/admin")

    def render_page(self, template, **values):
        """Render a page's template with the common values (admin, flash message, helpers)."""
        values.setdefault("title", "")
        done = DONE.get(self.get_argument("ok", ""))
        self.render(template, admin=self.current_user, done=done and self.tr(done), **values)

    def get_template_namespace(self):
        """Tornado's namespace and the state names, for every template and the parts a page
        draws with {% module Template(...) %} (a report's context: report_{kind}.html)."""
        return dict(super().get_template_namespace(), state_name=state_name,
                    goods_state=goods_state, USER=USER, GOODS=GOODS,
                    USER_STATE_ORDER=USER_STATE_ORDER, GOODS_STATE_ORDER=GOODS_STATE_ORDER)

    def arg_text(self, name, max_len, required=False):
        """A form field checked like API input (length, no control characters)."""
        return validate.text(self.get_argument(name, ""), name, max_len, required=required)

    def write_error(self, status_code, **kwargs):
        """An HTML error page with a plain message; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ServiceError):
            self.set_status(exc.status)
            status_code, message = exc.status, exc
        elif status_code == 403 and isinstance(exc, tornado.web.HTTPError) and \
                "xsrf" in (exc.log_message or "").lower():
            message = "This form is out of date or came from another site. Reload and try again."
        elif status_code == 404:
            message = "There is no such page."
        elif status_code < 500:
            message = self._reason
        else:
            message = "Something went wrong on the server; it has been logged."
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.render("error.html", admin=getattr(self, "_current_user", None), status=status_code,
                    message=self.tr(message), title=self.tr("Error"), done=None)


class StaticHandler(tornado.web.StaticFileHandler, AppHandler):
    """Files served as they are (the admin site's /static/, robots.txt, favicon.ico, the API
    viewer's assets, /uploads/): no token needed; one that is sent passes the identity checks
    of every route, as everywhere."""


class NotFoundHandler(ApiHandler):
    """Unknown paths answer the envelope with 404."""

    async def admit(self):
        raise tornado.web.HTTPError(404, "no such endpoint")
