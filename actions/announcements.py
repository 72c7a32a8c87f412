"""Announcements: a moderator sets a home-page slot (the text passes WeChat's check first)."""
from services import announcements


async def do_update_announcement(ctx, actor, mid, text, reason=""):
    """Set slot `mid` ('' clears it, audited with `reason`); all three slots, as
    /wx/admin/getNotice answers."""
    await ctx.content.require_announcement(text)
    return await ctx.run_db(announcements.update, actor, mid, text, reason)
