"""Recall (撤回): a sender takes back their own message within `chat.recall_seconds`.

The rule runs on the database executor in one transaction: the message is marked
`recalled_at` (its content stays for moderators: a report still shows it, retention purges it
like any message), its offline slot is freed, and the recipient's conversation-list row follows
(its last message becomes the placeholder when it was this one, its unread count drops when it
counted this one). Every reader is shown the placeholder from then on (replay, history, live):
`services.chat_frames.recalled` is the one shape of a recalled message, `recalled_for` words it
for who reads it.
The fan-out after the commit is actions.chat.do_recall.
"""
from models import is_mysql, utcnow, write_txn
from models.chat import ChatList, ChatMessage, pair_key
from services import chat, chat_frames
from services.clock import display

def refusal(code, status, text, **params):
    """A refused recall: an error frame on the socket (its code), code 100 with `status` over REST."""
    return chat.ChatRefusal(code, text, status=status, **params)


def too_late(seconds):
    if seconds and seconds % 60 == 0:
        return refusal("recall_too_late", 400, "Too late to recall: only messages sent in the "
                       "last %(minutes)d minutes can be recalled", minutes=seconds // 60)
    return refusal("recall_too_late", 400, "Too late to recall: only messages sent in the "
                   "last %(seconds)d seconds can be recalled", seconds=seconds)


def recall(me, peer, seq, window, now=None):
    """`me` recalls message `seq` of the conversation with `peer` (None: whoever it went to).

    Refused (ChatRefusal, nothing changes): recall switched off (window 0), an unknown seq or
    one of another conversation (`recall_unknown`), someone else's message (`recall_not_own`),
    already recalled (`recall_done`), older than `window` seconds (`recall_too_late`). Returns
    the recalled message as {seq, from, to, type, msgId, sendTime, recalledAt}."""
    now = (now or utcnow()).replace(microsecond=0)
    chat.check_sender(me)
    if not window:
        raise refusal("recall_off", 403, "Recalling messages is switched off")
    with write_txn():
        m = ChatMessage.get_or_none(ChatMessage.seq == seq)
        if m is None or me not in (m.from_openid, m.to_openid) or (
                peer is not None and m.pair != pair_key(me, peer)):
            raise refusal("recall_unknown", 404, "No such message in this conversation")
        if m.from_openid != me:
            raise refusal("recall_not_own", 403, "You can only recall your own messages")
        if m.recalled_at is not None:
            raise refusal("recall_done", 409, "This message was already recalled")
        sent = m.send_time if not isinstance(m.send_time, str) else \
            ChatMessage.send_time.python_value(m.send_time)
        if (now - sent).total_seconds() > window:
            raise too_late(window)
        changed = (ChatMessage.update(recalled_at=now, offline_slot=None)
                   .where(ChatMessage.seq == seq, ChatMessage.recalled_at.is_null())
                   .execute())
        if changed != 1:  # a recall of the same message committed meanwhile
            raise refusal("recall_done", 409, "This message was already recalled")
        _list_follows(m)
        return {"seq": m.seq, "from": m.from_openid, "to": m.to_openid, "type": m.type,
                "msgId": m.client_msg_id, "sendTime": display(sent),
                "recalledAt": display(now)}


def _list_follows(m):
    """The recipient's row about the sender: the placeholder when the recalled message was the
    newest one from the sender, and one unread fewer when it was counted. The unread messages
    are always the newest ones (each adds one, opening resets, a read receipt counts what
    follows it), so it was counted when fewer than `unread` newer ones are still shown."""
    query = ChatList.select().where(ChatList.to_openid == m.to_openid,
                                    ChatList.from_openid == m.from_openid)
    if is_mysql():  # the row as last committed (a list write that waited for this message's
        query = query.for_update()  # lock is in it), not this transaction's first snapshot
    row = query.first()
    if row is None or m.seq <= row.cleared_seq:
        return
    shown = ChatMessage.select().where(
        ChatMessage.to_openid == m.to_openid, ChatMessage.from_openid == m.from_openid,
        ChatMessage.recalled_at.is_null())
    newer = shown.where(ChatMessage.seq > m.seq).count()
    changes = {}
    if newer == 0:
        changes["last_context"] = chat_frames.LIST_PREVIEW
    if row.unread > newer:
        changes["unread"] = ChatList.unread - 1
    if changes:
        query = ChatList.update(**changes).where(ChatList.list_id == row.list_id)
        if "unread" in changes:
            query = query.where(ChatList.unread > 0)
        query.execute()
