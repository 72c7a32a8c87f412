"""Prometheus metrics of one application: HTTP requests, chat sockets and messages, offline queue.

Each application owns its CollectorRegistry (tests build many apps in one process, and the global
registry refuses a second metric of the same name). Live values (sockets, users, message counts)
are read at scrape time from the objects that already keep them (named one by one in `Live`,
not the whole application), so nothing is counted twice; database figures come from one service
call per scrape.
"""
import ipaddress
import logging
import math
from dataclasses import dataclass
from typing import Callable, Counter as CounterType

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from services.dashboard import metrics_figures

log = logging.getLogger("market.metrics")
CONTENT_TYPE = CONTENT_TYPE_LATEST
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OUTCOMES = ("delivered", "stored", "refused")


@dataclass
class Live:
    """The live objects the scrape reads (each keeps its own counts)."""
    registry: object                 # realtime.registry: sockets and users here
    in_flight: Callable[[], int]     # requests being answered
    chat_counts: CounterType         # ChatDelivery.counts: delivered / stored / refused
    check_counts: CounterType        # ContentCheck.counts: (kind, result)
    notice_counts: CounterType       # Notifier.counts: sent / refused / failed


class Metrics:
    """The metrics of one MarketApp; `observe(handler)` is called once per finished request."""

    def __init__(self, live, allow):
        self.live = live
        self.networks = [ipaddress.ip_network(a) for a in allow]
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "market_http_requests", "HTTP requests answered, by route (handler), method, status",
            ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "market_http_request_duration_seconds", "Time to answer an HTTP request, by route",
            ["route"], buckets=BUCKETS, registry=self.registry)
        self.offline_waiting = math.nan  # refreshed from the database at each scrape
        self.held = self.reports_open = math.nan
        self.database_up = 0
        self.registry.register(_LiveCollector(self))

    def observe(self, handler):
        """Count a finished request under its handler class name (bounded, unlike raw paths)."""
        route = type(handler).__name__
        self.requests.labels(route, handler.request.method, str(handler.get_status())).inc()
        self.latency.labels(route).observe(handler.request.request_time())

    def allowed(self, address):
        """True when `address` may read /metrics (metrics.allow)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    async def refresh(self, run_db):
        """Read the offline queue depth; a database failure shows as market_database_up 0."""
        try:
            figures = await run_db(metrics_figures)
            self.offline_waiting, self.held = figures["offline_waiting"], figures["held"]
            self.reports_open, self.database_up = figures["reports_open"], 1
        except Exception as e:  # Unavailable, or anything else: metrics must still answer
            log.warning("metrics: database figures unavailable (%s: %s)", type(e).__name__, e)
            self.offline_waiting, self.database_up = math.nan, 0
            self.held = self.reports_open = math.nan

    def exposition(self):
        """The text format body."""
        return generate_latest(self.registry)


class _LiveCollector:
    """Gauges and counters read from the registry, the delivery counts and the last refresh."""

    def __init__(self, metrics):
        self.metrics = metrics

    def collect(self):
        live, m = self.metrics.live, self.metrics
        yield GaugeMetricFamily("market_chat_connections", "Open chat sockets",
                                value=live.registry.connection_count())
        yield GaugeMetricFamily("market_chat_online_users", "Users with at least one chat socket",
                                value=live.registry.user_count())
        yield GaugeMetricFamily("market_http_requests_in_flight", "HTTP requests being answered",
                                value=live.in_flight())
        messages = CounterMetricFamily("market_chat_messages",
                                       "Chat messages by outcome: delivered live or from the "
                                       "offline store, stored offline, refused", labels=["outcome"])
        for outcome in OUTCOMES:
            messages.add_metric([outcome], live.chat_counts.get(outcome, 0))
        yield messages
        yield GaugeMetricFamily("market_chat_offline_waiting",
                                "Offline messages waiting for their recipient",
                                value=m.offline_waiting)
        checks = CounterMetricFamily("market_content_checks", "WeChat content checks by kind "
                                     "(text, image) and result (pass, review, risky, error, "
                                     "submitted)", labels=["kind", "result"])
        for (kind, result), n in sorted(live.check_counts.items()):
            checks.add_metric([kind, result], n)
        yield checks
        notices = CounterMetricFamily("market_notify_messages", "WeChat subscribe messages by "
                                      "outcome (sent, refused, failed)", labels=["outcome"])
        for outcome in ("sent", "refused", "failed"):
            notices.add_metric([outcome], live.notice_counts.get(outcome, 0))
        yield notices
        yield GaugeMetricFamily("market_held_items", "Listings held by content checks",
                                value=m.held)
        yield GaugeMetricFamily("market_reports_open", "Open user reports", value=m.reports_open)
        yield GaugeMetricFamily("market_database_up", "1 when the last scrape reached the database",
                                value=m.database_up)
