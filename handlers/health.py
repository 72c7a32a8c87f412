"""GET /healthz: the process is up and the database answers; which release is running."""
from handlers.base import ApiHandler
from models import db
from services.errors import ServiceError
from version import __version__


def _ping():
    db.execute_sql("SELECT 1").fetchone()


class HealthHandler(ApiHandler):
    """200 {"code":200,"msg":"ok","extend":{"version"}} or 503 with the reason (and the version)."""

    def first(self):
        """Health checks are not rate-limited."""

    async def get(self):
        try:
            await self.run_db(_ping)
        except ServiceError as e:
            self.set_status(503)
            self.finish({"code": 100, "msg": "database: " + e.msg,
                         "extend": {"version": __version__}})
            return
        self.ok({"version": __version__}, msg="ok")


default_handlers = [(r"/healthz", HealthHandler)]
