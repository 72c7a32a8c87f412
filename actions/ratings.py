"""Hand-overs and ratings: the seller marks a listing sold to a buyer they chatted with, the
buyer confirms, each rates the other once (the text checked by WeChat first); moderators
remove or release ratings."""
from services import ratings
from services.content_checks import SCENE_COMMENT


async def do_mark_sold(ctx, seller, gid, buyer):
    """The seller names the buyer of their listing (a hand-over waiting for the buyer); the
    listing is reserved (已预订) in the same transaction."""
    return await ctx.run_db(ratings.mark_sold, seller, gid, buyer)


async def do_confirm_handover(ctx, buyer, handover_id):
    """The buyer confirms; the listing is sold in the same transaction (a listing taken down
    meanwhile refuses the confirmation and nothing changes)."""
    return await ctx.run_db(ratings.confirm, buyer, handover_id)


async def do_rate(ctx, rater, handover_id, score, text):
    """Rate the other party once; the text (if any) goes through WeChat's check first (risky:
    refused; unsure or WeChat failing: the rating is held for a moderator)."""
    score = ratings.score_of(score)
    text = ratings.rating_text(text, ctx.config["ratings"]["text_chars"])
    hold = await ctx.content.require_text(rater, SCENE_COMMENT, text) if text else ""
    return await ctx.run_db(ratings.rate, rater, handover_id, score, text, hold)


async def do_remove_rating(ctx, actor, rating_id, reason=""):
    """A moderator removes a rating (audited)."""
    return await ctx.run_db(ratings.remove, actor, rating_id, reason)


async def do_release_rating(ctx, actor, rating_id):
    """A moderator shows a held or removed rating again (audited)."""
    return await ctx.run_db(ratings.release, actor, rating_id)
