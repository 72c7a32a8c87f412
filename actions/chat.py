"""Chat changes outside a chat frame: an admin broadcast (then its audit line), a user deleting a
conversation from their list, a sender recalling a message (by frame or REST). A chat message
itself goes through realtime/delivery.py."""
from models.admin import record
from services import chat


async def do_broadcast(ctx, actor, text):
    """Send `text` to every live chat socket (every process, through the bus); how many got it."""
    sent = await ctx.chat.broadcast(text)
    await ctx.run_db(record, actor, "broadcast", "all", text, "", str(sent))
    return sent


async def do_delete_conversation(ctx, owner, peer):
    """/lt/deleteList1: remove the owner's row about peer (the peer's row stays), after the
    conversation-list writes still pending are flushed (else they would bring it back)."""
    await ctx.chat.lists.flush()
    await ctx.run_db(chat.delete_conversation, owner, peer)


async def do_recall(ctx, me, peer, seq):
    """POST /wx/chat/recall: `me` recalls message `seq` the way a socket's recall
    frame does, through the chat pipeline (realtime.delivery.ChatDelivery.recall: the rule in
    one transaction, then the recalled frame to every socket of both parties)."""
    return await ctx.chat.recall(me, peer, seq)
