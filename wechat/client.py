"""The WeChat client (IOLoop side): code2Session for login, and the server API with the server
access token: fetched with the server's appid and secret
(/cgi-bin/stable_token, falling back to /cgi-bin/token), cached in the database so every process
shares it, refreshed ahead of its expiry and on errcode 40001/42001, never logged.

Calls go to `wechat.api_base` so tests can point them at a local fake. The session_key WeChat
returns at login is never kept, logged, or passed on."""
import asyncio
import datetime
import json
import logging
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from models import utcnow
from services import wechat_token
from errors import ServiceError, Unauthorized, Forbidden, TooMany, Unavailable

log = logging.getLogger("market.wechat")
REFRESH_AHEAD = datetime.timedelta(minutes=5)
TOKEN_ERRORS = (40001, 42001, 40014)

# errcode -> (error class, message for the client)
LOGIN_ERRORS = {
    40029: (Unauthorized, "invalid login code"),
    40163: (Unauthorized, "login code already used"),
    45011: (TooMany, "WeChat login rate limit, try again later"),
    40226: (Forbidden, "WeChat refused this account (high risk)"),
    -1: (Unavailable, "WeChat is busy, try again"),
}


class WechatError(Unavailable):
    """WeChat could not be reached or answered an error (errcode kept for the caller)."""

    def __init__(self, msg, errcode=None, **params):
        super().__init__(msg, **params)
        self.errcode = errcode


async def fetch_json(url, timeout, body=None):
    """WeChat's JSON answer to a GET (body None) or a JSON POST; WechatError on any failure."""
    try:
        response = await AsyncHTTPClient().fetch(
            url, method="GET" if body is None else "POST",
            body=None if body is None else json.dumps(body, ensure_ascii=False),
            headers=None if body is None else {"Content-Type": "application/json"},
            connect_timeout=timeout, request_timeout=timeout)
        answer = json.loads(response.body)
    except HTTPClientError as e:
        raise WechatError("WeChat answered HTTP %(code)s", code=e.code)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise WechatError("WeChat unreachable (%(error)s)", error=type(e).__name__)
    if not isinstance(answer, dict):
        raise WechatError("WeChat answered garbage")
    return answer


class WechatApi:
    """Calls to api_base with the shared access token; one refresh at a time per process."""

    def __init__(self, config, run_db):
        self.config = config["wechat"]
        self.run_db = run_db
        self._lock = asyncio.Lock()
        self._cached = (None, None)
        self.refreshes = 0

    def _url(self, path, query=None):
        return self.config["api_base"].rstrip("/") + path + ("?" + urlencode(query) if query else "")

    async def _fetch(self, url, body=None):
        return await fetch_json(url, self.config["timeout"], body)

    async def access_token(self, force=False):
        """A valid access token (cached here and in the database, refreshed ahead of expiry)."""
        if not force and self._fresh(*self._cached):
            return self._cached[0]
        async with self._lock:  # concurrent callers wait for one refresh
            if not force and self._fresh(*self._cached):
                return self._cached[0]
            if not force:
                self._cached = await self.run_db(wechat_token.load)
                if self._fresh(*self._cached):
                    return self._cached[0]
            value, expires_in = await self._new_token(force)
            expires_at = utcnow() + datetime.timedelta(seconds=int(expires_in))
            await self.run_db(wechat_token.store, value, expires_at)
            self._cached = (value, expires_at)
            self.refreshes += 1
            log.info("WeChat access token refreshed, valid for %ss", expires_in)
            return value

    @staticmethod
    def _fresh(value, expires_at):
        return bool(value) and expires_at - utcnow() > REFRESH_AHEAD

    async def _new_token(self, force):
        creds = {"appid": self.config["appid"], "secret": self.config["secret"]}
        try:
            answer = await self._fetch(self._url("/cgi-bin/stable_token"), dict(
                grant_type="client_credential", force_refresh=bool(force), **creds))
        except WechatError:
            answer = {}
        if not answer.get("access_token"):
            answer = await self._fetch(self._url("/cgi-bin/token",
                                                 dict(grant_type="client_credential", **creds)))
        if not isinstance(answer.get("access_token"), str):
            raise WechatError("WeChat refused the access token (%(code)s)", answer.get("errcode"),
                              code=answer.get("errcode"))
        return answer["access_token"], answer.get("expires_in", 7200)

    async def code2session(self, code):
        """The openid for a wx.login code, or a ServiceError saying why not (the server's own
        appid and secret; the session_key of the answer is dropped here)."""
        wc = self.config
        if not wc["appid"] or not wc["secret"]:
            raise Unavailable("WeChat login is not configured on this server (wechat.appid and "
                              "wechat.secret); for a trial, enable auth.dev_login")
        url = self._url("/sns/jscode2session", {"appid": wc["appid"], "secret": wc["secret"],
                                                "js_code": code,
                                                "grant_type": "authorization_code"})
        try:
            answer = await self._fetch(url)
        except WechatError as e:
            log.warning("jscode2session failed: %s", e.msg)
            raise Unavailable("WeChat login is unavailable, try again")
        errcode = answer.get("errcode") or 0
        if errcode:
            log.info("jscode2session errcode %s", errcode)
            cls, msg = LOGIN_ERRORS.get(errcode,
                                        (Unavailable, "WeChat login failed (%s)" % errcode))
            raise cls(msg)
        openid = answer.get("openid")
        if not isinstance(openid, str) or not 0 < len(openid) <= 64:
            raise ServiceError("WeChat login answered no openid", status=502)
        return openid

    async def call(self, path, body):
        """POST body to path with the token; one retry with a new token on 40001/42001."""
        for attempt in (0, 1):
            token = await self.access_token(force=attempt == 1)
            answer = await self._fetch(self._url(path, {"access_token": token}), body)
            if answer.get("errcode") in TOKEN_ERRORS and attempt == 0:
                self._cached = (None, None)
                await self.run_db(wechat_token.forget, token)
                continue
            return answer
        return answer
