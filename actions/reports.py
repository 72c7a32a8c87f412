"""Reports: a user files one; a moderator acts on a target's reports (a block closes sockets)."""
from services import reports


async def do_file_report(ctx, reporter, body):
    """A new report; its id."""
    return await ctx.run_db(reports.create, reporter, body,
                            ctx.config["reports"]["per_hour_user"])


async def do_act_on_reports(ctx, actor, kind, target, action, reason=""):
    """Dismiss, take down or block; a blocked author's chat sockets close after the commit."""
    blocked = await ctx.run_db(reports.act, actor, kind, target, action, reason)
    if blocked:
        ctx.chat.close_user(blocked)
    return blocked
