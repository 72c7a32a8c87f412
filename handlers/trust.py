"""Trust and reach for the mini-program: POST /wx/report, POST /wx/notify/subscribe, and the
callback WeChat calls with mediaCheckAsync results (signed with the configured token)."""
import json
import logging

from handlers.base import BaseHandler
from services import content_security, notify, reports, validate
from services.errors import Invalid

log = logging.getLogger("market.moderation")


class ReportHandler(BaseHandler):
    """POST /wx/report {openid, targetType, targetId, reason[, messages]} → extend.reportId."""

    async def post(self):
        body = self.json_body()
        reporter = self.caller(body.get("openid"))
        report_id = await self.run_db(reports.create, reporter, body,
                                      self.config["reports"]["per_hour_user"])
        self.ok({"reportId": report_id}, msg="reported")


class SubscribeHandler(BaseHandler):
    """POST /wx/notify/subscribe {openid, templateIds: [...]} → extend.grants {template: count}
    (only the templates this server sends, each capped at notify.MAX_GRANTS)."""

    async def post(self):
        body = self.json_body()
        openid = self.caller(body.get("openid"))
        ids = body.get("templateIds", body.get("tmplIds"))
        known = notify.templates(self.config["notify"])
        self.ok({"grants": await self.run_db(notify.add_grants, openid, ids, known)})


class MediaCallbackHandler(BaseHandler):
    """WeChat message push: GET verifies the URL (echostr), POST carries wxa_media_check events."""

    def prepare(self):
        """Only WeChat may call: its signature over token, timestamp and nonce."""
        self.application.content.verify_signature(
            self.get_query_argument("signature", ""), self.get_query_argument("timestamp", ""),
            self.get_query_argument("nonce", ""))

    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.finish(self.get_query_argument("echostr", ""))

    async def post(self):
        try:
            event = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise Invalid("the body is not valid JSON")
        validate.no_lone_surrogate(event)
        if isinstance(event, dict) and event.get("Event") == "wxa_media_check":
            result = event.get("result") or {}
            status = await self.run_db(content_security.apply_media_result,
                                       str(event.get("trace_id", "")), result.get("suggest"),
                                       result.get("label"))
            self.application.content.counts[("image", status or "unknown")] += 1
        self.set_header("Content-Type", "text/plain")
        self.finish("success")


default_handlers = [
    (r"/wx/report", ReportHandler),
    (r"/wx/notify/subscribe", SubscribeHandler),
    (r"/wx/wechat/callback", MediaCallbackHandler),
]
