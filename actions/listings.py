"""A listing's life, the changes its owner makes (edit, sale state, renewal) and the sweep that
expires and reminds: each awaits its rule (services/listings.py), then sends the subscribe
messages after the commit (ctx.later: WeChat never delays the answer)."""

from process.periodic import Periodic
from services import listings
from services.content_checks import SCENE_FORUM



async def do_edit(ctx, openid, gid, body):
    """The owner edits a listing. The shape first (no WeChat call for a refused one), then, if
    a checked text changes, WeChat's content check (risky: refused; WeChat failing: held), then
    the rule; after the commit the price-drop subscribe messages. Returns the rule's answer."""
    fields = listings.edit_fields(body, ctx.config["goods"]["max_price"])
    texts = await ctx.run_db(listings.texts_to_check, gid, openid, fields)
    hold = await ctx.content.require_text(openid, SCENE_FORUM, *texts) if texts else ""
    done = await ctx.run_db(listings.edit, gid, openid, fields, hold,
                            ctx.config["goods"]["expire_days"])
    for fan in done["alerted"]:
        ctx.later(ctx.notifier.price_drop(fan, gid, done["title"], done["old_price"],
                                          done["new_price"]), "price-drop message")
    return done


async def do_set_sale_state(ctx, openid, gid, state):
    """The owner (or, with openid None, a trusted rule such as a confirmed hand-over) sets the
    sale state: 0 on sale / relist, 1 reserved, 2 sold. Returns listings.life()."""
    return await ctx.run_db(listings.set_sale_state, gid, openid, state,
                            ctx.config["goods"]["expire_days"])


async def do_renew(ctx, openid, gid):
    """One tap: a new expiry period (an expired listing is back on sale). listings.life()."""
    return await ctx.run_db(listings.renew, gid, openid, ctx.config["goods"]["expire_days"])


async def do_sweep(ctx, batch=100):
    """Expire and remind, in batches of `batch` listings, each its own transaction on the
    executor (the IOLoop is free between them); the reminders' subscribe messages after each
    batch commits. Returns (expired, reminded)."""
    cfg = ctx.config["goods"]
    expired = reminded = 0
    while True:
        n = await ctx.run_db(listings.expire_batch, cfg["expire_days"], batch)
        expired += n
        if n < batch:
            break
    while True:
        sent = await ctx.run_db(listings.remind_batch, cfg["expire_days"], cfg["remind_days"],
                                batch)
        reminded += len(sent)
        for openid, gid, title, expires in sent:
            ctx.later(ctx.notifier.listing_reminder(openid, gid, title, expires),
                      "listing reminder")
        if len(sent) < batch:
            break
    return expired, reminded


class ListingSweeper(Periodic):
    """Runs do_sweep every goods.sweep_seconds on the IOLoop (made in make_app, started in
    start, stopped in shutdown). Every process may run one: each reminder is claimed by a
    conditional UPDATE, so it is sent once."""

    what = "listing sweep"

    def __init__(self, ctx):
        self.ctx = ctx
        self.every = self.first = ctx.config["goods"]["sweep_seconds"]
        self.last = None  # (expired, reminded) of the last sweep

    async def run(self):
        await self.flush()

    async def flush(self):
        """One sweep: (expired, reminded)."""
        self.last = await do_sweep(self.ctx)
        return self.last
