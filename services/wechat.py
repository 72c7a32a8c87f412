"""The WeChat server API as this product uses it: code2Session for login.

Calls go to `wechat.api_base` so tests can point them at a local fake. The session_key WeChat
returns is never kept, logged, or passed on.
"""
import logging
from urllib.parse import urlencode

from services.errors import ServiceError, Unauthorized, Forbidden, TooMany, Unavailable
from services.wechat_api import WechatError, fetch_json

log = logging.getLogger("market.wechat")

# errcode -> (error class, message for the client)
LOGIN_ERRORS = {
    40029: (Unauthorized, "invalid login code"),
    40163: (Unauthorized, "login code already used"),
    45011: (TooMany, "WeChat login rate limit, try again later"),
    40226: (Forbidden, "WeChat refused this account (high risk)"),
    -1: (Unavailable, "WeChat is busy, try again"),
}


async def code2session(config, code):
    """The openid for a wx.login code, or a ServiceError saying why not."""
    wc = config["wechat"]
    if not wc["appid"] or not wc["secret"]:
        raise Unavailable("WeChat login is not configured on this server (wechat.appid and "
                          "wechat.secret); for a trial, enable auth.dev_login")
    query = urlencode({"appid": wc["appid"], "secret": wc["secret"], "js_code": code,
                       "grant_type": "authorization_code"})
    url = wc["api_base"].rstrip("/") + "/sns/jscode2session?" + query
    try:
        answer = await fetch_json(url, wc["timeout"])
    except WechatError as e:
        log.warning("jscode2session failed: %s", e.msg)
        raise Unavailable("WeChat login is unavailable, try again")
    errcode = answer.get("errcode") or 0
    if errcode:
        log.info("jscode2session errcode %s", errcode)
        cls, msg = LOGIN_ERRORS.get(errcode, (Unavailable, "WeChat login failed (%s)" % errcode))
        raise cls(msg)
    openid = answer.get("openid")
    if not isinstance(openid, str) or not 0 < len(openid) <= 64:
        raise ServiceError("WeChat login answered no openid", status=502)
    return openid
