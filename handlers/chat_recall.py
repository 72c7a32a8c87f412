"""Recall over REST: POST /wx/chat/recall {"peer", "seq"} (the socket's
{"type": "recall", "seq"} does the same: docs/chat-protocol.md, "Recall")."""
from actions.chat import do_recall
from handlers.base import ApiHandler
from services import validate


class ChatRecallHandler(ApiHandler):
    """POST /wx/chat/recall {"peer", "seq"[, "openid"]}: the caller recalls their message `seq`
    of the conversation with `peer`; extend: {seq, recalledAt}."""

    async def post(self):
        body = self.json_body()
        me = self.caller(body.get("openid"))
        peer = validate.openid(body.get("peer"), "peer")
        seq = validate.integer(body.get("seq"), "recallSeq", low=1)
        done = await do_recall(self.actions, me, peer, seq)
        self.ok({"seq": done["seq"], "recalledAt": done["recalledAt"]})


default_handlers = [
    (r"/wx/chat/recall", ChatRecallHandler),
]
