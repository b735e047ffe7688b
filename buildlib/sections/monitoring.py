"""The `monitoring:` section: what to alert on, and when (the guide's thresholds by default)."""

from __future__ import annotations

from ..schema import SECTION_DEFAULTS, Field, Int, ListOf, Nullable, Number, Record, Str
from .deploy import prefix_problem

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
