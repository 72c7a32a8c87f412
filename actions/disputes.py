"""Disputes about a confirmed hand-over: a party opens one (the reason checked by WeChat first),
a moderator decides it; after each commit the subscribe messages (the inbox lines are written
in the rule's transaction)."""
from services import disputes
from services.content_checks import SCENE_COMMENT
from errors import Phrase

OPENED, UPHELD, DISMISSED = Phrase("dispute opened"), Phrase("upheld"), Phrase("dismissed")


async def do_open_dispute(ctx, opener, hid, body):
    """The buyer or the seller opens the dispute of hand-over `hid` (body: reason, photos?).
    Shape first (no WeChat call for a refused one); risky text is refused, unsure text is
    stored with a note for the moderators (who are its only readers); then the other party's
    subscribe message."""
    trade = ctx.config["trade"]
    reason = disputes.reason_of(body.get("reason"), trade["dispute_reason_chars"])
    photos = disputes.photos_of(body, trade["dispute_photos"])
    hold = await ctx.content.require_text(opener, SCENE_COMMENT, reason)
    result = await ctx.run_db(disputes.open_dispute, opener, hid, reason, photos,
                              trade["dispute_days"], hold)
    ctx.later(ctx.notifier.dispute(result["other"], result["goodsName"], OPENED),
              "dispute notice")
    return result


async def do_decide_dispute(ctx, actor, dispute_id, decision, fault, reason):
    """A moderator upholds (naming the party at fault) or dismisses a dispute (audited); both
    parties get the subscribe message."""
    result = await ctx.run_db(disputes.decide, actor, dispute_id, decision, fault, reason)
    outcome = UPHELD if result["state"] == "upheld" else DISMISSED
    for openid in result["parties"]:
        ctx.later(ctx.notifier.dispute(openid, result["goodsName"], outcome), "dispute notice")
    return result
