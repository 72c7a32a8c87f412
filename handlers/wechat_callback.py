"""The callback WeChat calls with mediaCheckAsync results (signed with the configured token)."""
import json

from actions.images import do_apply_media_result
from handlers.base import ApiHandler
from services import validate
from errors import Invalid


class MediaCallbackHandler(ApiHandler):
    """WeChat message push: GET verifies the URL (echostr), POST carries wxa_media_check events."""

    async def admit(self):
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
            await do_apply_media_result(self.actions, str(event.get("trace_id", "")),
                                        result.get("suggest"), result.get("label"))
        self.set_header("Content-Type", "text/plain")
        self.finish("success")


default_handlers = [
    (r"/wx/wechat/callback", MediaCallbackHandler),
]
