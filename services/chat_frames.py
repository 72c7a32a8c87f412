"""Every frame the server writes to a chat socket, one function per type (docs/chat-protocol.md).

A message, a recalled message (worded for whoever reads it), a read receipt, an admin broadcast,
a safety notice and a refusal. Plain dicts, built in one place so the replay, the history, the
live path and the bus agree on each shape; `realtime/codec.py` turns them into bytes. The
original client reads only `fromOpenid` and `content` (a bubble); the rest is for newer clients.
No database, no I/O.
"""
from services.clock import display, display_now

SYSTEM = "system"  # the sender of what the server itself says (a refusal, a notice)

# what each reader is shown in place of a recalled message (locale/zh_CN.csv: 你撤回了一条消息,
# 对方撤回了一条消息)
YOU_RECALLED = "You recalled a message"
PEER_RECALLED = "The other party recalled a message"
# the recipient's conversation list shows it in place of the last message (stored text, as the
# list's [图片] / [商品] previews are)
LIST_PREVIEW = "对方撤回了一条消息"


def message(sender, to, content, kind, send_time, seq, msg_id):
    """A message as its recipient receives it: the original's fields plus sendTime (as
    displayed), type, seq and msgId (null when the sender gave none)."""
    return {"fromOpenid": sender, "toOpenid": to, "content": content, "sendTime": send_time,
            "type": kind, "seq": seq, "msgId": msg_id}


def stored(m):
    """The frame of a stored ChatMessage row (replay, history): the message, or the placeholder
    of a recalled one, never its content."""
    if m.recalled_at is not None:
        return recalled_of(m)
    return message(m.from_openid, m.to_openid, m.content, m.type,
                   display(m.send_time) if m.send_time else display_now(), m.seq,
                   m.client_msg_id)


def recalled(seq, sender, to, send_time, msg_id=None, recalled_at=""):
    """A recalled message as every reader gets it, live or in place of the message (replay,
    history): its seq, parties and time, never its content (`content` is worded per reader:
    recalled_for)."""
    return {"type": "recalled", "seq": seq, "fromOpenid": sender, "toOpenid": to,
            "content": PEER_RECALLED, "sendTime": send_time, "msgId": msg_id,
            "recalledAt": recalled_at}


def recalled_of(m):
    """recalled() of a recalled ChatMessage row."""
    return recalled(m.seq, m.from_openid, m.to_openid, display(m.send_time), m.client_msg_id,
                    display(m.recalled_at))


def recalled_for(frame, reader, translate):
    """The recalled frame worded for `reader`: 你撤回了一条消息 to its sender, 对方撤回了一条消息
    to the other party (the original client draws it as a bubble from fromOpenid)."""
    text = YOU_RECALLED if frame["fromOpenid"] == reader else PEER_RECALLED
    return dict(frame, content=translate(text))


def read_receipt(reader, peer, seq):
    """`reader` has read everything from `peer` up to `seq` (to `peer`'s sockets)."""
    return {"type": "read", "fromOpenid": reader, "toOpenid": peer, "seq": seq, "content": ""}


def broadcast(text, sender):
    """An admin notice to every live socket, shown by the original client as a bubble."""
    return {"type": "broadcast", "fromOpenid": sender, "toOpenid": "-1", "content": text,
            "sendTime": display_now()}


def notice(recipient, peer, topic, text):
    """A safety notice about the conversation with `peer`: a bubble from `system`."""
    return {"type": "notice", "kind": "safety", "topic": topic, "fromOpenid": SYSTEM,
            "toOpenid": recipient, "peer": peer, "content": text, "sendTime": display_now()}


def refusal(me, code, text, msg_id=None):
    """A refusal any client can show: a bubble from `system`, plus type/code for newer clients."""
    frame = {"type": "error", "code": code, "fromOpenid": SYSTEM, "toOpenid": me,
             "content": text, "sendTime": display_now()}
    if msg_id is not None:
        frame["msgId"] = msg_id
    return frame
