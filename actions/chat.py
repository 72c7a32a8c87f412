"""Chat changes outside a chat frame: an admin broadcast (then its audit line), a user deleting a
conversation from their list. A chat message itself goes through realtime/delivery.py."""
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
