"""``/metrics``: the fleet and the ingest workers in Prometheus's text exposition format.

Read from the database at each scrape (no state in the console process), so it is right
with any number of ingest workers and console replicas. Per kiosk (labels ``post``,
``kiosk``): online, silent, battery, charging, solar, outbox depth, age of the oldest
unsent crossing, list age, seconds since last seen, audit alarm, rejected messages. Per
worker and topic: messages stored, messages rejected, receipts sent (counters).
"""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from appliance.domain import clock
from hq import alerts, counters
from hq.db import HQDatabase
from hq.fleet import fleet_rows

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# (metric name, help, value of a fleet row)
KIOSK_GAUGES: tuple[tuple[str, str, Any], ...] = (
    ("kiosk_online", "1 when the kiosk's last status is online and it is not silent", lambda r: r["online"]),
    ("kiosk_silent", "1 when the kiosk says online but has sent nothing for hq.offline_after_s",
     lambda r: r["state"] == "silent"),
    ("kiosk_battery_percent", "Battery charge reported in the last health message", lambda r: r["battery_percent"]),
    ("kiosk_charging", "1 when the battery is charging", lambda r: r["charging"]),
    ("kiosk_solar_watts", "Solar input in watts", lambda r: r["solar_w"]),
    ("kiosk_outbox_depth", "Messages waiting in the kiosk's outbox", lambda r: r["outbox_depth"]),
    ("kiosk_oldest_unsent_age_seconds", "Age of the oldest crossing not yet receipted by HQ",
     lambda r: r["oldest_unsent_age_s"]),
    ("kiosk_list_age_seconds", "Age of the oldest watchlist in force on the kiosk", lambda r: r["list_age_s"]),
    ("kiosk_audit_alarm", "1 when the kiosk's audit chain heads show a rewritten or cut log",
     lambda r: r["audit_alarm"] is not None),
    ("kiosk_rejected_messages", "Messages from the kiosk HQ refused (bad signature, malformed)",
     lambda r: r["rejected_messages"]),
)
COUNTERS = {"messages": "Messages ingest stored, by worker and topic",
            "rejected": "Messages ingest refused, by worker and topic",
            "receipts": "Receipts ingest sent, by worker and topic"}


class FleetCollector:
    def __init__(self, db: HQDatabase, silent_after_s: int) -> None:
        self.db, self.silent_after_s = db, silent_after_s

    def collect(self) -> Iterator[Metric]:
        rows = fleet_rows(self.db, self.silent_after_s)
        now = clock.utcnow()
        for name, text, value_of in KIOSK_GAUGES:
            family = GaugeMetricFamily(f"hq_{name}", text, labels=["post", "kiosk"])
            for row in rows:
                value = value_of(row)
                if value is not None:
                    family.add_metric([row["post_id"], row["kiosk_id"]], float(value))
            yield family
        seen = GaugeMetricFamily("hq_kiosk_last_seen_seconds", "Seconds since HQ last heard from the kiosk",
                                 labels=["post", "kiosk"])
        for row in rows:
            if row["last_seen"]:
                seen.add_metric([row["post_id"], row["kiosk_id"]],
                                (now - clock.parse_iso(row["last_seen"])).total_seconds())
        yield seen
        yield GaugeMetricFamily("hq_kiosks", "Kiosks enrolled", value=len(rows))
        unacknowledged = GaugeMetricFamily("hq_alerts_unacknowledged", "Watchlist alerts no HQ user acknowledged yet",
                                           value=len(alerts.recent(self.db, limit=10_000, unacknowledged=True)))
        yield unacknowledged
        families = {name: CounterMetricFamily(f"hq_ingest_{name}", text, labels=["worker", "topic"])
                    for name, text in COUNTERS.items()}
        for row in counters.totals(self.db):
            if row["name"] in families:
                families[row["name"]].add_metric([row["worker"], row["topic"]], float(row["value"]))
        yield from families.values()


def exposition(db: HQDatabase, silent_after_s: int) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(db, silent_after_s))
    return generate_latest(registry)
