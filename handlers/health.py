"""GET /healthz: the process is up and the database answers."""
from handlers.base import ApiHandler
from models import db
from services.errors import ServiceError


def _ping():
    db.execute_sql("SELECT 1").fetchone()


class HealthHandler(ApiHandler):
    """200 {"code":200,"msg":"ok"} or 503 with the reason."""

    def prepare(self):
        """Health checks are not rate-limited."""

    async def get(self):
        try:
            await self.run_db(_ping)
        except ServiceError as e:
            self.set_status(503)
            self.finish({"code": 100, "msg": "database: " + e.msg})
            return
        self.ok(msg="ok")


default_handlers = [(r"/healthz", HealthHandler)]
