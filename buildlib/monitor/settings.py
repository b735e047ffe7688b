"""The ``monitoring:`` section of build.yaml: what to alert on, and when.

The defaults are the deployment guide's thresholds: a P95 response time over
800 ms, a GC pause over 500 ms sustained for a minute; beside them the error
rate, a target that stops answering, and restarts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import config
from ..config import Project
from ..deploy.settings import prefix_problem
from ..schema import SECTION_DEFAULTS, Field, Int, ListOf, Nullable, Number, Record, Str

_DURATION = Str(pattern=r"[1-9][0-9]*(ms|s|m|h)", pattern_help="a Prometheus duration like 30s, 5m or 1h")
_METRIC = Str(pattern=r"[a-zA-Z_:][a-zA-Z0-9_:]*", pattern_help="a Prometheus metric name")
_LABEL = Str(pattern=r"[a-zA-Z_][a-zA-Z0-9_]*", pattern_help="a Prometheus label name")


ALERT_KEYS = ("latency_p95", "error_rate", "gc_pause", "down", "restarts")


def _alert(**fields: Field) -> Field:
    return Field(Record(cls=dict, fields=fields), default=SECTION_DEFAULTS)


SECTION = Field(
    Record(
        cls=dict,
        fields={
            "scrape_interval": Field(_DURATION, default="15s"),
            # Rates and quantiles are taken over this window.
            "window": Field(_DURATION, default="5m"),
            "metrics_path": Field(Str(pattern=r"/[A-Za-z0-9._/-]*", pattern_help="an URL path like /metrics"),
                                  default="/metrics"),
            # nginx on each host serves the metrics path on this port (and nothing else), open to
            # 127.0.0.1 and the scrapers only; the site's own port keeps /metrics closed to the outside.
            "port": Field(Int(min=1, max=65535, what="a TCP port (1-65535)"), default=9180),
            "scrapers": Field(ListOf(Str(check=prefix_problem, what="an IP prefix")), factory=list),
            # The service's own metric names (the template's are the defaults).
            "metrics": Field(Record(cls=dict, fields={
                "requests": Field(_METRIC, default="http_requests_total"),
                "duration": Field(_METRIC, default="http_request_duration_seconds"),
                "status_label": Field(_LABEL, default="status"),
            }), default=SECTION_DEFAULTS),
            # Alertmanagers Prometheus sends alerts to (host:port), and the webhook they call: the
            # feedback loop that turns an alert into a ticket.
            "alertmanagers": Field(ListOf(Str(pattern=r"[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}",
                                              pattern_help="HOST:PORT")), factory=list),
            "webhook": Field(Nullable(Str(pattern=r"https?://\S+", pattern_help="an http(s) URL")), default=None),
            # Alerts left out (the service cannot export what they read); never "all".
            "skip": Field(ListOf(Str(choices=ALERT_KEYS)), factory=list),
            "runbook_url": Field(Nullable(Str(pattern=r"https?://\S+", pattern_help="an http(s) URL")), default=None),
            "alerts": Field(Record(cls=dict, fields={
                "latency_p95": _alert(ms=Field(Number(min=1), default=800), **{"for": Field(_DURATION, default="5m")}),
                "error_rate": _alert(percent=Field(Number(min=0.01), default=5),
                                     **{"for": Field(_DURATION, default="5m")}),
                "gc_pause": _alert(ms=Field(Number(min=1), default=500), **{"for": Field(_DURATION, default="1m")}),
                "down": _alert(**{"for": Field(_DURATION, default="1m")}),
                "restarts": _alert(count=Field(Number(min=1), default=3), within=Field(_DURATION, default="15m")),
            }), default=SECTION_DEFAULTS),
        },
    ),
    default=SECTION_DEFAULTS,
)

config.register_section("monitoring", SECTION)


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
