"""Privacy: consenting and withdrawing, a student's data archive (reads on the
database executor, the zip written on a file thread, never on the IOLoop), and the sweep that
removes archives once they expire."""
import asyncio
import logging

from models import utcnow
from process.periodic import Periodic
from services import data_export, images, privacy

log = logging.getLogger("market.privacy")


async def do_consent(ctx, openid, body):
    """Agree to the current policy, or withdraw (subscribe-message grants go with it)."""
    current = ctx.config["privacy"]["policy_version"]
    action, version = privacy.parse(body, current)
    return await ctx.run_db(privacy.consent, openid, action, version, current)


async def do_export(ctx, openid):
    """Prepare the caller's archive (at most one a day); {"state", "size", "expiresAt"}. A
    failure halfway leaves nothing: the row and any partial file go, and the student may ask
    again."""
    cfg = ctx.config["privacy"]
    started = await ctx.run_db(data_export.start, openid, utcnow(), cfg["export_keep_hours"])
    try:
        public, private = images.folders(ctx.config)
        files, photos = await ctx.run_db(data_export.collect, openid, public, private)
        size = await asyncio.get_running_loop().run_in_executor(
            None, data_export.write_archive, cfg["export_dir"], started["name"], files, photos)
        return await ctx.run_db(data_export.ready, started["id"], size)
    except BaseException:
        await asyncio.shield(ctx.run_db(data_export.forget, started["id"], cfg["export_dir"]))
        raise


async def do_download(ctx, openid):
    """The path of the caller's ready archive (audited), or NotFound."""
    found = await ctx.run_db(data_export.for_download, openid, utcnow())
    return data_export.path_of(ctx.config["privacy"]["export_dir"], found["name"]), found


class ExportSweeper(Periodic):
    """Removes expired archives every `every` seconds (each process may: idempotent)."""

    what = "data archive sweep"

    def __init__(self, run_db, folder, every=300.0, first=5.0):
        self.run_db, self.folder = run_db, folder
        self.every, self.first = every, first

    async def run(self):
        await self.sweep()

    async def sweep(self, now=None):
        """Remove what has expired by `now`; the number of archives removed."""
        removed = await self.run_db(data_export.sweep, now or utcnow(), self.folder)
        if removed:
            log.info("data archives removed: %d", removed)
        return removed
