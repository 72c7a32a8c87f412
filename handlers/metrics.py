"""GET /metrics: Prometheus text format, only for the addresses in metrics.allow."""
from handlers.base import ApiHandler
from errors import Forbidden
from metrics import CONTENT_TYPE


class MetricsHandler(ApiHandler):
    """The application's metrics (see metrics.py); 403 from other addresses."""

    def first(self):
        """Not rate-limited (scrapers are allowed by address), refused to everyone else."""
        if not self.application.metrics.allowed(self.request.remote_ip):
            raise Forbidden("metrics are not available from this address")

    async def get(self):
        metrics = self.application.metrics
        await metrics.refresh(self.application.run_db)
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(metrics.exposition())


default_handlers = [(r"/metrics", MetricsHandler)]
