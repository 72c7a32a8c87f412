"""The inbox a user reads: marking one of its two kinds read."""
from services import inbox


async def do_mark_read(ctx, openid, kind):
    """/lt/haveRead: every unread line of that kind becomes read; how many changed."""
    return await ctx.run_db(inbox.mark_read, openid, kind)
