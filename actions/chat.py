"""Chat changes outside a chat frame: an admin broadcast (then its audit line), a user deleting a
conversation from their list, a sender recalling a message (by frame or REST). A chat message
itself goes through realtime/delivery.py."""
import asyncio

from models.admin import record
from services import chat, recall


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
    """`me` recalls message `seq` (issue 25; peer None: whoever it went to): the rule (one
    transaction, services.recall), then every socket of both parties, in every process, gets
    the recalled frame (each socket words it for its reader). The conversation-list changes
    still pending are written first, so none brings the content back after the rule; with
    several processes, those of the others are given one round of their writers (0.25 s)."""
    lists = ctx.chat.lists
    await lists.flush()
    if not ctx.chat.bus.local:
        await asyncio.sleep(2 * lists.interval)
        await lists.flush()
    done = await ctx.run_db(recall.recall, me, peer, seq, ctx.config["chat"]["recall_seconds"])
    frame = recall.frame(done["seq"], done["from"], done["to"], done["sendTime"], done["msgId"],
                         done["recalledAt"])
    await ctx.chat.bus.send_to_user(done["to"], frame)
    await ctx.chat.bus.send_to_user(me, frame)
    return done
