"""What a running bot counts, served as Prometheus text at `GET /metrics`.

Each runtime has a registry of its own (not prometheus-client's global one), so several runtimes
in one process (tests, the demo) never mix their figures, and each bot process serves its own
numbers: with several processes, scrape every one (the README says how).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger("closeloop.summary")

# Slack acks must come within 3 s; what matters is well below that.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
SWEEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
DUE_ROW_BUCKETS = (0, 1, 10, 100, 1_000, 10_000)


@dataclass(frozen=True)
class Owed:
    """What the outbox owes Slack of one kind: how many, and since when the oldest waits."""

    count: int
    oldest: datetime | None


class OutboxCollector(Collector):
    """Reads the outbox's depth from the database at scrape time, so the figure is the database's
    truth (shared by every process) rather than one process's guess."""

    def __init__(self, owed: Callable[[], Mapping[str, Owed]], clock: Callable[[], datetime]) -> None:
        self.owed = owed
        self.clock = clock

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        depth = GaugeMetricFamily("closeloop_outbox_owed", "Messages owed to Slack, by kind", labels=["kind"])
        age = GaugeMetricFamily(
            "closeloop_outbox_oldest_owed_seconds",
            "How long the oldest owed message of each kind has waited",
            labels=["kind"],
        )
        return depth, age

    def describe(self) -> Iterable[Metric]:
        """The names, for the registry, without reading the database (else registering would)."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        depth, age = self._families()
        try:
            owed = self.owed()
        except Exception as error:  # a scrape during a database outage: no outbox figures
            log.debug("outbox depth not read: %s", error)
            owed = {}
        now = self.clock()
        for kind, item in sorted(owed.items()):
            depth.add_metric([kind], item.count)
            waited = (now - item.oldest).total_seconds() if item.oldest is not None else 0.0
            age.add_metric([kind], max(waited, 0.0))
        yield depth
        yield age


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.intake = Counter(
            "closeloop_intake_requests",
            "POST /feedback answers: accepted (created, updated, unchanged) or refused (by reason)",
            ["result"],
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "closeloop_slack_ack_seconds",
            "Time from a Slack request's arrival to the bot's answer (the ack), by kind of request",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self.sent = Counter(
            "closeloop_deliveries_sent", "Messages sent to Slack, by kind", ["kind"], registry=registry
        )
        self.failed = Counter(
            "closeloop_deliveries_failed",
            "Messages Slack refused or did not answer, by kind and Slack error",
            ["kind", "error"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "closeloop_slack_rate_limited",
            "429 answers from Slack, by Web API method",
            ["method"],
            registry=registry,
        )
        self.sweep_seconds = Histogram(
            "closeloop_deadline_sweep_seconds",
            "Duration of one deadline sweep",
            buckets=SWEEP_BUCKETS,
            registry=registry,
        )
        self.sweep_due_rows = Histogram(
            "closeloop_deadline_sweep_due_rows",
            "Due deadline rows handled by one sweep",
            buckets=DUE_ROW_BUCKETS,
            registry=registry,
        )
        self.commit_to_post = Histogram(
            "closeloop_commit_to_slack_seconds",
            "From the commit that made a message owed to Slack's answer accepting it, by kind",
            ["kind"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self._summary = MinuteSummary()

    def watch_outbox(self, owed: Callable[[], Mapping[str, Owed]], clock: Callable[[], datetime]) -> None:
        self.registry.register(OutboxCollector(owed, clock))

    # ---- what the bot reports -------------------------------------------------------------------

    def intake_answered(self, result: str) -> None:
        self.intake.labels(result).inc()
        self._summary.add(f"intake {result}")

    def acked(self, kind: str, seconds: float) -> None:
        self.ack_seconds.labels(kind).observe(seconds)

    def delivered(self, kind: str, lag_seconds: float | None) -> None:
        self.sent.labels(kind).inc()
        if lag_seconds is not None:
            self.commit_to_post.labels(kind).observe(max(lag_seconds, 0.0))
        self._summary.add(f"sent {kind}")

    def delivery_failed(self, kind: str, error: str) -> None:
        self.failed.labels(kind, error).inc()
        self._summary.add(f"failed {kind}")

    def slack_rate_limited(self, method: str) -> None:
        self.rate_limited.labels(method).inc()
        self._summary.add(f"429 {method}")

    def swept(self, seconds: float, due_rows: int) -> None:
        self.sweep_seconds.observe(seconds)
        self.sweep_due_rows.observe(due_rows)

    # ---- exposition -----------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def log_minute(self) -> None:
        """One line a minute of what happened, instead of a line a request under load."""
        line = self._summary.take()
        if line:
            log.info("last minute: %s", line)


class MinuteSummary:
    """Counts by label since the last summary line; thread-safe, cheap to add to."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, what: str) -> None:
        with self._lock:
            self._counts[what] = self._counts.get(what, 0) + 1

    def take(self) -> str:
        with self._lock:
            counts, self._counts = self._counts, {}
        return ", ".join(f"{what} {count:,}" for what, count in sorted(counts.items()))
