"""Listings a seller changes: publish (its text checked by WeChat first), delete their own; and
the favourites a buyer keeps."""
from services import favourites, goods
from services.content_checks import SCENE_FORUM


async def do_publish(ctx, openid, body):
    """A new listing, pending review; its gid. The shape is checked first (lengths, prices: a
    refusal costs no WeChat call), then the text (risky: refused; WeChat failing: held for a
    moderator), then the rule stores it."""
    fields = goods.listing_fields(body, ctx.config["goods"]["max_price"])
    hold = await ctx.content.require_text(openid, SCENE_FORUM, *goods.listing_texts(fields))
    return await ctx.run_db(goods.publish, openid, fields, hold)


async def do_delete_own(ctx, gid, openid):
    """The owner's soft delete (openid None: tokens off and none named, the caller trusted)."""
    await ctx.run_db(goods.delete_own, gid, openid)


async def do_replace_favourites(ctx, openid, gids):
    """/user/addGoodsToCar: the caller's favourites become `gids`; the stored list."""
    return await ctx.run_db(favourites.replace, openid, gids)
