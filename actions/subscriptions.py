"""Subscriptions: the one-time subscribe-message grants a user accepts in the mini-program."""
from services import subscriptions


async def do_subscribe(ctx, openid, template_ids):
    """Keep the grants of the templates this server sends; the pending grants per template."""
    known = subscriptions.templates(ctx.config["notify"])
    return await ctx.run_db(subscriptions.add_grants, openid, template_ids, known)
