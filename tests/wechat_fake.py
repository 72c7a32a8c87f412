"""A small local HTTP server that speaks WeChat's API as this product calls it.

The only thing the suite replaces: tests steer it with `fake.codes[code] = answer`.
A code "ok-<openid>" answers that openid; "err-<n>" answers errcode n; "slow" never answers in
time; "garbage" answers non-JSON; "http500" answers HTTP 500.
"""
import asyncio
import json

import tornado.web

SESSION_KEY = "SK_SENTINEL_session_key"


class Code2SessionHandler(tornado.web.RequestHandler):
    async def get(self):
        fake = self.settings["fake"]
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
            self.finish(json.dumps({"errcode": errcode, "errmsg": "fake error %d" % errcode}))
        elif code.startswith("ok-"):
            self.finish(json.dumps({"openid": code[3:], "session_key": SESSION_KEY,
                                    "unionid": "U" + code[3:]}))
        else:
            self.finish(json.dumps({"errcode": 40029, "errmsg": "invalid code"}))


class FakeWeChat:
    def __init__(self):
        self.calls = []
        self.slow_seconds = 3
        self.app = tornado.web.Application([(r"/sns/jscode2session", Code2SessionHandler)],
                                           fake=self, log_function=lambda handler: None)
