"""Moderation: review and take down listings, check users, release held content; then tell the
seller or user, and close a blocked user's chat sockets."""
from models.goods import APPROVED
from models.user import BLOCKED, REJECTED, VERIFIED
from actions.wanted import matches_told
from services import content_checks, moderation
from errors import Phrase, ServiceError

# what a subscribe message says (English source; translated by the notifier, locale/zh_CN.csv)
PASSED, NOT_PASSED, STUDENT_ID_CHECK = Phrase("passed"), Phrase("not passed"), Phrase(
    "student ID check")


async def do_review_goods(ctx, actor, gid, state, reason=None):
    """Approve or reject a listing; then the seller's subscribe message (if they granted one)
    and those of the want-to-buy posts an approval matched."""
    result = await ctx.run_db(moderation.review_goods, actor, gid, state, reason)
    outcome = PASSED if result["state"] == APPROVED else NOT_PASSED
    ctx.later(ctx.notifier.result(result["openid"], "review", result["goodsName"], outcome),
              "review notice")
    matches_told(ctx, result["wanted"])
    return result


async def do_review_many(ctx, actor, gids, state, reason=None):
    """Approve or reject several listings, each as do_review_goods does (its own transaction,
    audit line and seller notice); one refused (deleted meanwhile, already gone) doesn't stop
    the others. {"done": [gid], "refused": {gid: msg}}."""
    done, refused = [], {}
    for gid in gids[:moderation.BULK_MAX]:
        try:
            await do_review_goods(ctx, actor, gid, state, reason)
            done.append(gid)
        except ServiceError as e:
            refused[gid] = e.msg
    return {"done": done, "refused": refused}


async def do_set_goods_deleted(ctx, actor, gid, deleted, reason=None):
    """Take a listing down (soft delete) or restore it."""
    return await ctx.run_db(moderation.set_goods_deleted, actor, gid, deleted, reason)


async def do_check_user(ctx, actor, openid, action, reason=None):
    """verify / reject / block / unblock a user; then the follow-ups of the new state."""
    result = await ctx.run_db(moderation.check_user, actor, openid, action, reason)
    user_checked(ctx, result)
    return result


async def do_check_users_many(ctx, actor, openids, action, reason=None):
    """verify / reject several users, each as do_check_user does; one refused doesn't stop the
    others. {"done": [openid], "refused": {openid: msg}}."""
    done, refused = [], {}
    for openid in openids[:moderation.BULK_MAX]:
        try:
            await do_check_user(ctx, actor, openid, action, reason)
            done.append(openid)
        except ServiceError as e:
            refused[openid] = e.msg
    return {"done": done, "refused": refused}


async def do_check_user_by_state(ctx, actor, openid, state, reason=None):
    """/wx/admin/userCheck's form of do_check_user (state 1, 2, 10; 0 unblocks)."""
    result = await ctx.run_db(moderation.check_user_by_state, actor, openid, state, reason)
    user_checked(ctx, result)
    return result


def user_checked(ctx, result):
    """After a committed user check: a blocked user's sockets close at once; a changed
    verification result is told to the user (later, without delaying the moderator)."""
    if result["state"] == BLOCKED:
        ctx.chat.close_user(result["openid"])
    elif result["state"] in (VERIFIED, REJECTED) and result.get("old_state") != result["state"]:
        outcome = PASSED if result["state"] == VERIFIED else NOT_PASSED
        ctx.later(ctx.notifier.result(result["openid"], "verify", STUDENT_ID_CHECK, outcome),
                  "verification notice")


async def do_release_held(ctx, actor, gid=None, image=None, comment=None, reply=None):
    """Show a held listing, image, comment or reply again (audited); a listing made public
    tells the want-to-buy posts it matches."""
    told = await ctx.run_db(content_checks.release, gid, image, actor, comment, reply)
    matches_told(ctx, told)
