"""A user's own account: login (WeChat's code2session, the account, the token), registration
(names checked by WeChat, the avatar sent to its check), school details."""
from services import accounts, blocks, images, tokens, users
from services.content_checks import AVATAR, SCENE_PROFILE


async def do_register(ctx, openid, body):
    """Store the profile; risky names are refused; then the avatar goes to WeChat's image
    check (later: an unchecked avatar stays, it is WeChat's own profile picture)."""
    fields = users.profile_fields(body)
    names = [v for v in (fields["wxname"], fields.get("uname")) if v]
    await ctx.content.require_text(openid, SCENE_PROFILE, *names)
    await ctx.run_db(users.register, openid, fields)
    avatar = fields.get("head_img")
    if ctx.content.enabled and avatar and avatar.startswith("http"):
        ctx.later(ctx.content.submit_image(AVATAR, None, openid, avatar, SCENE_PROFILE),
                  "avatar check")


async def do_log_in(ctx, code, admit=None):
    """/wx/user/getOpenid: a wx.login code -> {"openid", "token"}. WeChat's code2session names
    the openid (with the server's own appid and secret), `admit(openid)` may still refuse it
    (the handler's per-user login budget), then the user exists and gets a token."""
    openid = await ctx.wechat.code2session(code)
    if admit is not None:
        admit(openid)
    return await do_dev_log_in(ctx, openid)


async def do_dev_log_in(ctx, openid):
    """{"openid", "token"} for a named openid without WeChat (/wx/user/devLogin, only with
    auth.dev_login on; and the last step of do_log_in): the user exists from now on, and the
    token carries the account's epoch (`ep`, only once an account was deleted)."""
    epoch = await do_log_in_account(ctx, openid)
    auth = ctx.config["auth"]
    token = tokens.issue(auth["token_secret"], openid, auth["token_ttl"], epoch=epoch or None)
    return {"openid": openid, "token": token}


async def do_log_in_account(ctx, openid):
    """A user who logged in exists from now on (their first login creates the row, also after
    the account was deleted: a fresh one); returns the epoch the token carries."""
    return await ctx.run_db(accounts.log_in, openid)


async def do_delete_account(ctx, openid, body):
    """Delete the caller's account (a body without {"confirm": "注销"} changes nothing); after the
    commit every token and socket of the openid ends in every process, then the student-ID
    files go."""
    accounts.check_confirmation(body)
    result = await ctx.run_db(accounts.delete_account, openid)
    await ctx.control.revoked(openid)
    await ctx.run_db(images.remove_private, ctx.config, result["files"])
    return result


async def do_block(ctx, openid, other, blocked=True):
    """Block (or unblock) another user; every process reads the blocker's set again."""
    changed = await ctx.run_db(blocks.block if blocked else blocks.unblock, openid, other)
    if changed:
        await ctx.control.blocks_changed(openid)
    return changed


async def do_update_school_info(ctx, openid, body):
    """/user/updateUserInfo: school, student number and class."""
    await ctx.run_db(users.update_school_info, openid, body)
