"""Comments, replies and likes: a text is checked by WeChat (risky refused, unsure held), then
stored."""
from services import comments
from services.content_checks import SCENE_COMMENT


async def _hold(ctx, openid, content):
    """The reason to hold this text ('' to show it), after its shape was checked."""
    return await ctx.content.require_text(openid, SCENE_COMMENT, comments.comment_text(content))


async def do_add_main(ctx, openid, info):
    """/pl/addMainComments: the new comment as the client shows it."""
    hold = await _hold(ctx, openid, info.get("content"))
    return await ctx.run_db(comments.add_main, openid, info, hold)


async def do_add_reply(ctx, openid, body):
    """/pl/addSonCommments: the new reply as the client shows it."""
    hold = await _hold(ctx, openid, body.get("content"))
    return await ctx.run_db(comments.add_reply, openid, body, hold)


async def do_like(ctx, openid, in_id):
    """Like a comment (once; its author's inbox is told once); the like count."""
    return await ctx.run_db(comments.like, openid, in_id)


async def do_unlike(ctx, openid, in_id):
    """Take a like back; the like count."""
    return await ctx.run_db(comments.unlike, openid, in_id)
