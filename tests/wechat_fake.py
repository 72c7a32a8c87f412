"""A small local HTTP server that speaks WeChat's API as this product calls it.

The only thing the suite replaces. Tests steer it through the FakeWeChat object:
- login: a code "ok-<openid>" answers that openid; "err-<n>" errcode n; "slow" never answers in
  time; "garbage" non-JSON; "http500" HTTP 500;
- access tokens (/cgi-bin/stable_token, /cgi-bin/token): counted; `expire_tokens()` makes the
  issued ones answer 42001; `stable_down` makes stable_token answer 404;
- msgSecCheck: content containing RISKY / REVIEW answers that suggest, SLOW never answers in
  time, GARBAGE answers non-JSON, DOWN answers HTTP 502; otherwise pass;
- mediaCheckAsync answers a trace_id and records the request; `media_down` makes it fail;
- subscribe/send records messages; `send_errcode` makes it refuse with that errcode.
"""
import asyncio
import itertools
import json

import tornado.web

SESSION_KEY = "SK_SENTINEL_session_key"


class FakeHandler(tornado.web.RequestHandler):
    @property
    def fake(self):
        return self.settings["fake"]

    def body(self):
        return json.loads(self.request.body or b"{}")

    def answer(self, data):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, ensure_ascii=False))

    def token_error(self):
        """errcode for the query's access_token: 0 valid, 42001 expired, 40001 unknown."""
        token = self.get_query_argument("access_token", "")
        if token in self.fake.valid_tokens:
            return 0
        return 42001 if token in self.fake.expired_tokens else 40001


class Code2SessionHandler(FakeHandler):
    async def get(self):
        fake = self.fake
        fake.calls.append(dict((k, self.get_argument(k, None))
                               for k in ("appid", "secret", "js_code", "grant_type")))
        code = self.get_argument("js_code", "")
        if code == "slow":
            await asyncio.sleep(fake.slow_seconds)
            self.finish("{}")
        elif code == "garbage":
            self.finish("<html>oops</html>")
        elif code == "http500":
            self.set_status(500)
            self.finish("{}")
        elif code.startswith("err-"):
            errcode = int(code[4:])
            self.answer({"errcode": errcode, "errmsg": "fake error %d" % errcode})
        elif code.startswith("ok-"):
            self.answer({"openid": code[3:], "session_key": SESSION_KEY, "unionid": "U" + code[3:]})
        else:
            self.answer({"errcode": 40029, "errmsg": "invalid code"})


class StableTokenHandler(FakeHandler):
    async def post(self):
        body = self.body()
        if self.fake.stable_down:
            self.set_status(404)
            self.finish("not found")
            return
        self.answer(self.fake.issue_token("stable", body.get("appid"), body.get("secret")))


class TokenHandler(FakeHandler):
    async def get(self):
        self.answer(self.fake.issue_token("token", self.get_query_argument("appid"),
                                          self.get_query_argument("secret")))


class MsgSecCheckHandler(FakeHandler):
    async def post(self):
        body = self.body()
        self.fake.text_checks.append(body)
        content = body.get("content", "")
        if self.token_error():
            self.answer({"errcode": self.token_error(), "errmsg": "access_token invalid"})
        elif "SLOW" in content:
            await asyncio.sleep(self.fake.slow_seconds)
            self.answer({"errcode": 0})
        elif "GARBAGE" in content:
            self.finish("<html>")
        elif "DOWN" in content:
            self.set_status(502)
            self.finish("bad gateway")
        else:
            suggest = "risky" if "RISKY" in content else "review" if "REVIEW" in content else "pass"
            label = {"pass": 100, "review": 20002, "risky": 20001}[suggest]
            self.answer({"errcode": 0, "errmsg": "ok", "trace_id": "t%d" % len(self.fake.text_checks),
                         "result": {"suggest": suggest, "label": label},
                         "detail": [{"strategy": "content_model", "errcode": 0,
                                     "suggest": suggest, "label": label}]})


class MediaCheckHandler(FakeHandler):
    async def post(self):
        body = self.body()
        if self.token_error():
            self.answer({"errcode": self.token_error(), "errmsg": "access_token invalid"})
        elif self.fake.media_down:
            self.set_status(503)
            self.finish("")
        else:
            trace = "trace-%d" % next(self.fake.counter)
            self.fake.media_checks.append(dict(body, trace_id=trace))
            self.answer({"errcode": 0, "errmsg": "ok", "trace_id": trace})


class SubscribeSendHandler(FakeHandler):
    async def post(self):
        body = self.body()
        if self.token_error():
            self.answer({"errcode": self.token_error(), "errmsg": "access_token invalid"})
            return
        if self.fake.send_errcode:
            self.answer({"errcode": self.fake.send_errcode, "errmsg": "refused"})
            return
        self.fake.sent.append(body)
        self.answer({"errcode": 0, "errmsg": "ok"})


class FakeWeChat:
    def __init__(self):
        self.calls = []
        self.slow_seconds = 3
        self.counter = itertools.count(1)
        self.token_calls = []
        self.valid_tokens, self.expired_tokens = set(), set()
        self.stable_down = self.media_down = False
        self.send_errcode = 0
        self.text_checks, self.media_checks, self.sent = [], [], []
        self.app = tornado.web.Application([
            (r"/sns/jscode2session", Code2SessionHandler),
            (r"/cgi-bin/stable_token", StableTokenHandler),
            (r"/cgi-bin/token", TokenHandler),
            (r"/wxa/msg_sec_check", MsgSecCheckHandler),
            (r"/wxa/media_check_async", MediaCheckHandler),
            (r"/cgi-bin/message/subscribe/send", SubscribeSendHandler),
        ], fake=self, log_function=lambda handler: None)

    def issue_token(self, kind, appid, secret):
        self.token_calls.append((kind, appid, secret))
        token = "ACCESS-%d" % next(self.counter)
        self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def expire_tokens(self):
        """Every token issued so far now answers 42001 (expired)."""
        self.expired_tokens |= self.valid_tokens
        self.valid_tokens = set()
