"""Want-to-buy posts: post (its text checked by WeChat first), delete, take down, release; and
the subscribe messages owed after a listing matching posts became public."""
from services import wanted
from services.content_checks import SCENE_FORUM


async def do_post_wanted(ctx, openid, body):
    """A new post; its shape. Shape first (no WeChat call for a refused one), then the text
    (risky: refused; unsure or WeChat failing: held for a moderator, not on the board and not
    matching), then the rule stores it."""
    fields = wanted.post_fields(body, ctx.config["wanted"], ctx.config["goods"]["max_price"])
    hold = await ctx.content.require_text(openid, SCENE_FORUM, fields["keywords"], fields["place"])
    return await ctx.run_db(wanted.create, openid, fields, ctx.config["wanted"], hold)


async def do_delete_wanted(ctx, openid, post_id):
    """The owner deletes their post."""
    await ctx.run_db(wanted.delete_own, openid, post_id)


async def do_take_down_wanted(ctx, actor, post_id, reason):
    """A moderator takes a post down with a reason (audited)."""
    return await ctx.run_db(wanted.take_down, actor, post_id, reason)


async def do_release_wanted(ctx, actor, post_id):
    """A moderator shows a held or taken-down post again."""
    return await ctx.run_db(wanted.release, actor, post_id)


def matches_told(ctx, told):
    """After a commit that made a listing public (review, release of a held listing): the
    subscribe message to each post owner the rule gave an inbox notice (one a post a day)."""
    for match in told or ():
        ctx.later(ctx.notifier.wanted_match(match["openid"], match["keywords"],
                                            match["goodsName"]), "want-to-buy notice")
