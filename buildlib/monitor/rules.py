"""Prometheus files for the service: recording and alerting rules, the fleet's scrape job, rule tests.

Plain data dumped as YAML (not templates): every expression is built from the
thresholds and metric names in build.yaml, and the same numbers produce the
promtool tests that show each alert firing just above its threshold and silent
just below it. Every alert carries the service and the host (the scrape job
labels each target with its host name from deploy.hosts) and a runbook line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..deploy.settings import DeployConfig
from .settings import MonitorConfig, seconds

RULES_FILE = "rules.yml"
SCRAPE_FILE = "scrape.yml"
TESTS_FILE = "rules.test.yml"
ALERTMANAGER_FILE = "alertmanager.yml"


@dataclass(frozen=True)
class AlertRule:
    key: str       # the alert's key in build.yaml (monitoring.alerts.KEY)
    name: str      # the alert's name in Prometheus
    expr: str
    duration: str  # for:
    summary: str
    runbook: str
    reads: tuple[str, ...]  # metric names the expression needs from the service


def alert_prefix(job: str) -> str:
    """The service's name as its alerts begin: order-api -> OrderApi (OrderApiLatencyP95High)."""
    return "".join(part.capitalize() for part in job.replace("_", "-").split("-") if part)


def _ms(value: float) -> str:
    return f"{value * 1000:g}ms"


def recording(m: MonitorConfig) -> list[dict[str, str]]:
    sel, w = f'job="{m.job}"', m.window
    by = "host, instance"
    return [
        {"record": f"{m.job}:{m.duration}:p95_{w}",
         "expr": f"histogram_quantile(0.95, sum by ({by}, le) (rate({m.duration}_bucket{{{sel}}}[{w}])))"},
        {"record": f"{m.job}:{m.requests}:error_ratio_{w}",
         "expr": f'sum by ({by}) (rate({m.requests}{{{sel},{m.status_label}=~"5.."}}[{w}])) '
                 f"/ sum by ({by}) (rate({m.requests}{{{sel}}}[{w}]))"},
    ]


def alerts(m: MonitorConfig) -> list[AlertRule]:
    a, job, sel, w, name = m.alerts, m.job, f'job="{m.job}"', m.window, alert_prefix(m.job)
    every = [
        AlertRule("latency_p95", f"{name}LatencyP95High",
                  f"{job}:{m.duration}:p95_{w} > {a['latency_p95'].value:g}", a["latency_p95"].duration,
                  f"p95 response time above {_ms(a['latency_p95'].value)} on {{{{ $labels.host }}}}",
                  f"find the slow route in {m.duration} by route; check the database and upstream latency "
                  "from that host; if it began with a release, `invoke deploy.rollback --hosts "
                  "{{ $labels.host }}`",
                  (f"{m.duration}_bucket",)),
        AlertRule("error_rate", f"{name}ErrorRateHigh",
                  f"{job}:{m.requests}:error_ratio_{w} > {a['error_rate'].value:g}", a["error_rate"].duration,
                  f"more than {a['error_rate'].value * 100:g}% of requests answer 5xx on {{{{ $labels.host }}}}",
                  f"read the service's journal on {{{{ $labels.host }}}} (`journalctl -u '{job}*'`); if it began "
                  "with a release, `invoke deploy.rollback --hosts {{ $labels.host }}`",
                  (m.requests,)),
        AlertRule("gc_pause", f"{name}GcPauseLong",
                  f'max by (host, instance) (go_gc_duration_seconds{{{sel},quantile="1"}}) > '
                  f"{a['gc_pause'].value:g}", a["gc_pause"].duration,
                  f"Go GC pauses above {_ms(a['gc_pause'].value)} on {{{{ $labels.host }}}}",
                  "the heap is under pressure: compare go_memstats_heap_inuse_bytes with the memory limit; "
                  "profile allocations (pprof) before raising GOGC or the memory",
                  ("go_gc_duration_seconds",)),
        AlertRule("down", f"{name}Down", f"up{{{sel}}} == 0", a["down"].duration,
                  f"{job} on {{{{ $labels.host }}}} does not answer its scrape",
                  "`invoke deploy.status --hosts {{ $labels.host }}` shows the unit and what nginx serves; "
                  f"then `journalctl -u '{job}*'` there",
                  ()),
        AlertRule("restarts", f"{name}Restarting",
                  f"changes(process_start_time_seconds{{{sel}}}[{a['restarts'].duration}]) >= "
                  f"{a['restarts'].value:g}", "0s",
                  f"{job} restarted {a['restarts'].value:g} or more times within {a['restarts'].duration} on "
                  "{{ $labels.host }}",
                  f"systemd restarts it after each crash: `journalctl -u '{job}*'` on {{{{ $labels.host }}}} "
                  "shows the last lines before each start",
                  ("process_start_time_seconds",)),
    ]
    return [r for r in every if r.key not in m.skip]


def rules_doc(m: MonitorConfig) -> dict[str, Any]:
    def alert(r: AlertRule) -> dict[str, Any]:
        runbook = r.runbook + (f" ({m.runbook_url}#{r.key})" if m.runbook_url else "")
        out: dict[str, Any] = {"alert": r.name, "expr": r.expr}
        if r.duration != "0s":
            out["for"] = r.duration
        out["labels"] = {"severity": "page" if r.key == "down" else "warning", "service": m.job}
        out["annotations"] = {"summary": r.summary, "runbook": runbook}
        return out

    return {"groups": [
        {"name": f"{m.job}.recording", "rules": recording(m)},
        {"name": f"{m.job}.alerts", "rules": [alert(r) for r in alerts(m)]},
    ]}


def scrape_doc(m: MonitorConfig, deploy: DeployConfig) -> dict[str, Any]:
    """A prometheus.yml with the service's job: every deploy host, on its nginx's metrics port."""
    job: dict[str, Any] = {
        "job_name": m.job,
        "scrape_interval": m.scrape_interval,
        "metrics_path": m.metrics_path,
        "static_configs": [{"targets": [h.metrics or f"{h.host}:{m.port}"], "labels": {"host": h.name}}
                           for h in deploy.hosts.values()],
    }
    doc: dict[str, Any] = {"global": {"scrape_interval": m.scrape_interval,
                                      "evaluation_interval": m.scrape_interval},
                           "rule_files": [RULES_FILE], "scrape_configs": [job]}
    if m.alertmanagers:
        doc["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(m.alertmanagers)}]}]}
    return doc


def alertmanager_doc(m: MonitorConfig) -> dict[str, Any] | None:
    """An Alertmanager configuration sending the service's alerts to monitoring.webhook (None without one)."""
    if not m.webhook:
        return None
    return {
        "route": {"receiver": f"{m.job}-webhook", "group_by": ["alertname", "host"],
                  "group_wait": "5s", "group_interval": "30s", "repeat_interval": "4h"},
        "receivers": [{"name": f"{m.job}-webhook",
                       "webhook_configs": [{"url": m.webhook, "send_resolved": True}]}],
    }


def _series(m: MonitorConfig, key: str, level: float, samples: int) -> list[dict[str, str]]:
    """Input series in which alert ``key``'s measured value is ``level`` on host web1."""
    ident = f'job="{m.job}",host="web1",instance="web1:{m.port}"'
    rise = f"0+{{}}x{samples}"
    if key == "latency_p95":
        # All requests in one bucket just below `level`: the quantile interpolates to about `level`.
        low, high = level * 0.999, level
        return [{"series": f'{m.duration}_bucket{{{ident},le="{low:.6g}"}}', "values": rise.format(0)},
                {"series": f'{m.duration}_bucket{{{ident},le="{high:.6g}"}}', "values": rise.format(100)},
                {"series": f'{m.duration}_bucket{{{ident},le="+Inf"}}', "values": rise.format(100)}]
    if key == "error_rate":
        errors = round(100 * level)
        return [{"series": f'{m.requests}{{{ident},{m.status_label}="500"}}', "values": rise.format(errors)},
                {"series": f'{m.requests}{{{ident},{m.status_label}="200"}}', "values": rise.format(100 - errors)}]
    if key == "gc_pause":
        return [{"series": f'go_gc_duration_seconds{{{ident},quantile="1"}}', "values": f"{level:g}x{samples}"}]
    if key == "down":
        return [{"series": f"up{{{ident}}}", "values": f"{level:g}x{samples}"}]
    # restarts: a new start time every scrape `level` times, then steady.
    starts = " ".join(str(1000 + i) for i in range(int(level) + 1))
    return [{"series": f"process_start_time_seconds{{{ident}}}", "values": f"{starts} {1000 + int(level)}x{samples}"}]


def tests_doc(m: MonitorConfig) -> dict[str, Any]:
    """promtool tests: each alert fires just past its threshold and stays silent just short of it."""
    step = m.scrape_interval
    tests = []
    for r in alerts(m):
        threshold = m.alerts[r.key].value
        # Long enough for the window to fill and the `for:` to pass, plus two evaluations.
        span = seconds(m.window) + seconds(r.duration) + 3 * seconds(step)
        if r.key == "restarts":
            span = seconds(step) * (threshold + 2)
        samples = int(span // seconds(step)) + 2
        eval_at = f"{int(span)}s"
        above, below = {"latency_p95": (threshold * 1.125, threshold * 0.875),
                        "error_rate": (threshold * 2, threshold / 2),
                        "gc_pause": (threshold * 1.2, threshold * 0.8),
                        "down": (0, 1),
                        "restarts": (threshold, max(threshold - 1, 0))}[r.key]
        labels = {"severity": "page" if r.key == "down" else "warning", "service": m.job, "host": "web1",
                  "instance": f"web1:{m.port}", **({"job": m.job} if r.key in ("down", "restarts") else {})}
        summary = r.summary.replace("{{ $labels.host }}", "web1")
        runbook = r.runbook.replace("{{ $labels.host }}", "web1") + (f" ({m.runbook_url}#{r.key})"
                                                                     if m.runbook_url else "")
        for level, fires in ((above, True), (below, False)):
            tests.append({
                "name": f"{r.name} {'fires' if fires else 'stays silent'} at {level:g}",
                "interval": step,
                "input_series": _series(m, r.key, level, samples),
                "alert_rule_test": [{
                    "eval_time": eval_at, "alertname": r.name,
                    "exp_alerts": [{"exp_labels": labels,
                                    "exp_annotations": {"summary": summary, "runbook": runbook}}] if fires else [],
                }],
            })
    return {"rule_files": [RULES_FILE], "evaluation_interval": step, "tests": tests}


def write(folder: Path, docs: dict[str, dict[str, Any]]) -> list[Path]:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, doc in docs.items():
        path = folder / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False, width=120), encoding="utf-8")
        out.append(path)
    return out
