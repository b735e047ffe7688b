"""The ``monitoring:`` section of build.yaml: what to alert on, and when.

The defaults are the deployment guide's thresholds: a P95 response time over
800 ms, a GC pause over 500 ms sustained for a minute; beside them the error
rate, a target that stops answering, and restarts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import Project


@dataclass(frozen=True)
class Alert:
    """One alert's threshold: ``value`` in the unit the rule compares (seconds, a ratio, a count)."""

    name: str
    value: float
    duration: str  # the rule's `for:` (restarts: the window it counts in)


@dataclass(frozen=True)
class MonitorConfig:
    job: str
    scrape_interval: str
    window: str
    metrics_path: str
    port: int
    scrapers: tuple[str, ...]
    requests: str
    duration: str
    status_label: str
    runbook_url: str | None
    alerts: dict[str, Alert]
    skip: tuple[str, ...]
    alertmanagers: tuple[str, ...] = ()
    webhook: str | None = None


def seconds(duration: str) -> float:
    """A Prometheus duration (30s, 5m) in seconds."""
    m = re.fullmatch(r"([0-9]+)(ms|s|m|h)", duration)
    assert m, duration
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def load(project: Project) -> MonitorConfig:
    raw = project.extra["monitoring"]
    a = raw["alerts"]
    if seconds(raw["window"]) < 2 * seconds(raw["scrape_interval"]):
        raise project.error("monitoring.window", f"{raw['window']} holds fewer than two scrapes at "
                            f"monitoring.scrape_interval {raw['scrape_interval']}: rate() needs two samples; "
                            "make the window at least twice the interval")
    alerts = {
        "latency_p95": Alert("latency_p95", a["latency_p95"]["ms"] / 1000, a["latency_p95"]["for"]),
        "error_rate": Alert("error_rate", a["error_rate"]["percent"] / 100, a["error_rate"]["for"]),
        "gc_pause": Alert("gc_pause", a["gc_pause"]["ms"] / 1000, a["gc_pause"]["for"]),
        "down": Alert("down", 0, a["down"]["for"]),
        "restarts": Alert("restarts", a["restarts"]["count"], a["restarts"]["within"]),
    }
    m = raw["metrics"]
    return MonitorConfig(job=project.project.name, scrape_interval=raw["scrape_interval"], window=raw["window"],
                         metrics_path=raw["metrics_path"], port=raw["port"], scrapers=tuple(raw["scrapers"]),
                         requests=m["requests"],
                         duration=m["duration"], status_label=m["status_label"], runbook_url=raw["runbook_url"],
                         alerts=alerts, skip=tuple(raw["skip"]), alertmanagers=tuple(raw["alertmanagers"]),
                         webhook=raw["webhook"])
