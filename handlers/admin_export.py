"""CSV downloads for admins: /admin/export/{listings,users,reports}.csv, streamed a page at a
time (each page read on the database executor, written and flushed before the next is read),
so a 100k-row table never becomes one string in memory."""
import datetime

import tornado.iostream
import tornado.web

from handlers.base import PageHandler
from services import exports


class ExportCsv(PageHandler):
    """GET /admin/export/KIND.csv: every row of the table, UTF-8 with a BOM, formula-safe cells."""

    @tornado.web.authenticated
    async def get(self, kind):
        await self.run_db(exports.audit, self.current_user, kind)
        day = datetime.date.today().strftime("%Y%m%d")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="%s-%s.csv"' % (kind, day))
        after = 0
        while after is not None:
            chunk, after = await self.run_db(exports.page, kind, after)
            self.write(chunk)
            try:
                await self.flush()
            except tornado.iostream.StreamClosedError:
                return  # the browser went away: stop reading pages


default_handlers = [
    (r"/admin/export/(listings|users|reports)\.csv", ExportCsv),
]
