"""Small helpers for chat tests: read a frame with a timeout, assert silence, open a logged-in pair."""
import asyncio
import json


async def read(ws, timeout=3):
    """The next frame as a dict (None when the socket closed); fails the test on timeout."""
    message = await asyncio.wait_for(ws.read_message(), timeout)
    return None if message is None else json.loads(message)


async def silent(ws, seconds=0.3):
    """True when nothing arrives within `seconds`."""
    try:
        message = await asyncio.wait_for(ws.read_message(), seconds)
    except asyncio.TimeoutError:
        return True
    raise AssertionError("unexpected frame: %r" % (message,))


def send(ws, **frame):
    return ws.write_message(json.dumps(frame, ensure_ascii=False))


async def users(api, *openids):
    """Log each user in (registered with a name); returns {openid: token}."""
    return {o: await api.login(o, wxname="名字-" + o) for o in openids}


# -- reading the store (on the database executor: app.run_db(helper, ...) or a `database` test) --
def unreceived(to, sender):
    """Seqs of messages to `to` from `sender` not yet received, oldest first."""
    from models.chat import ChatMessage
    return [m.seq for m in ChatMessage.select(ChatMessage.seq)
            .where(ChatMessage.to_openid == to, ChatMessage.from_openid == sender,
                   ChatMessage.received == 0).order_by(ChatMessage.seq)]


def pending_offline(to, sender):
    """Messages stored for `to` from `sender` while `to` held no socket and not yet received
    (those holding an offline slot), oldest first, as (seq, frame)."""
    from models.chat import ChatMessage
    from services.chat_frames import stored
    rows = (ChatMessage.select()
            .where(ChatMessage.to_openid == to, ChatMessage.from_openid == sender,
                   ChatMessage.offline_slot.is_null(False))
            .order_by(ChatMessage.seq))
    return [(m.seq, stored(m)) for m in rows]


def store_offline(sender, to, content, kind, msg_id, limit):
    """One message for a recipient with no socket, through the store's one entry
    (services.chat.store_batch): its seq (the stored one for a resend), or the refusal raised."""
    from models import utcnow
    from services.chat import store_batch
    result = store_batch([{"op": "msg", "from": sender, "to": to, "content": content,
                           "type": kind, "msgId": msg_id, "time": utcnow().replace(microsecond=0),
                           "offline": True}], limit)[0]
    if isinstance(result, Exception):
        raise result
    return result["seq"]


def mark_received(to, seqs):
    """The recipient confirmed these messages (a receipt, through store_batch)."""
    from services.chat import store_batch
    store_batch([{"op": "received", "me": to, "peer": None, "upto": None, "seqs": list(seqs)}], 0)
