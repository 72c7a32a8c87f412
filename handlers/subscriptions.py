"""Subscriptions: POST /wx/notify/subscribe, the grants a user accepted for subscribe messages."""
from actions.subscriptions import do_subscribe
from handlers.base import ApiHandler


class SubscribeHandler(ApiHandler):
    """POST /wx/notify/subscribe {openid, templateIds: [...]} → extend.grants {template: count}
    (only the templates this server sends, each capped at subscriptions.MAX_GRANTS)."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        ids = body.get("templateIds", body.get("tmplIds"))
        self.ok({"grants": await do_subscribe(self.actions, openid, ids)})


default_handlers = [
    (r"/wx/notify/subscribe", SubscribeHandler),
]
