"""Monitoring files from build.yaml, checked by the real promtool and against the real service's /metrics."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from buildlib.bench import lab
from tests.helpers.support import REPO, run_invoke

# promtool comes from Debian's prometheus package (.ci/run installs it).


@pytest.fixture(scope="session")
def built_bin(once: Callable[..., Any], shared_dir: Path) -> Path:
    """bin/ with the template's service for this machine, made by `invoke build`."""
    return Path(once("monitor-release", lambda: str(lab.build_release(
        REPO, "1.0.0", shared_dir / "monitor-releases", shared_dir / "monitor-build"))))


def _tree(tmp_path: Path, built_bin: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    raw = yaml.safe_load((REPO / "build.yaml").read_text())
    if edit:
        edit(raw)
    root = lab.workspace(tmp_path / "project", REPO, raw["deploy"], monitoring=raw.get("monitoring") or {})
    lab.use_release(root, built_bin)
    return root


def test_render_writes_rules_scrape_job_and_tests(tmp_path: Path) -> None:
    out = tmp_path / "mon"
    done = run_invoke("monitor.render", "--out", str(out))
    assert done.returncode == 0, done.stderr
    rules = yaml.safe_load((out / "rules.yml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert sorted(alerts) == ["GinsvcDown", "GinsvcErrorRateHigh", "GinsvcGcPauseLong", "GinsvcLatencyP95High",
                              "GinsvcRestarting"]
    # The guide's thresholds: P95 over 800 ms, a GC pause over 500 ms for a minute.
    assert alerts["GinsvcLatencyP95High"]["expr"] == "ginsvc:http_request_duration_seconds:p95_5m > 0.8"
    assert alerts["GinsvcGcPauseLong"]["for"] == "1m"
    assert '> 0.5' in alerts["GinsvcGcPauseLong"]["expr"]
    for rule in alerts.values():
        assert rule["labels"]["service"] == "ginsvc"
        assert "{{ $labels.host }}" in rule["annotations"]["summary"]
        assert rule["annotations"]["runbook"]
    scrape = yaml.safe_load((out / "scrape.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["job_name"] == "ginsvc" and job["metrics_path"] == "/metrics"
    assert [(c["targets"], c["labels"]) for c in job["static_configs"]] == [
        (["web1.example.internal:9180"], {"host": "web1"}), (["web2.example.internal:9180"], {"host": "web2"}),
        (["web3.example.internal:9180"], {"host": "web3"})]


def _latency_case(p95: float, fires: bool) -> dict[str, Any]:
    ident = 'job="ginsvc",host="web2",instance="web2:9180"'
    series = [{"series": f'http_request_duration_seconds_bucket{{{ident},le="{le}"}}', "values": f"0+{n}x60"}
              for le, n in ((round(p95 - 0.001, 3), 0), (p95, 50), ("+Inf", 50))]
    alert = {"exp_labels": {"severity": "warning", "service": "ginsvc", "host": "web2", "instance": "web2:9180"},
             "exp_annotations": {"summary": "p95 response time above 800ms on web2", "runbook": (
                 "find the slow route in http_request_duration_seconds by route; check the database and upstream "
                 "latency from that host; if it began with a release, `invoke deploy.rollback --hosts web2`")}}
    return {"interval": "15s", "input_series": series, "alert_rule_test": [
        {"eval_time": "11m", "alertname": "GinsvcLatencyP95High", "exp_alerts": [alert] if fires else []}]}


def test_the_latency_alert_fires_at_900ms_and_stays_silent_at_700ms(tmp_path: Path) -> None:
    assert run_invoke("monitor.render", "--out", str(tmp_path)).returncode == 0
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "15s",
             "tests": [_latency_case(0.9, True), _latency_case(0.7, False)]}
    (tmp_path / "case.yml").write_text(yaml.safe_dump(tests))
    done = subprocess.run(["promtool", "test", "rules", "case.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    # The same check can fail: 700 ms claimed to fire is refused by promtool.
    tests["tests"] = [_latency_case(0.7, True)]
    (tmp_path / "case.yml").write_text(yaml.safe_dump(tests))
    wrong = subprocess.run(["promtool", "test", "rules", "case.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert wrong.returncode == 1
    assert "alertname: GinsvcLatencyP95High" in wrong.stdout + wrong.stderr


def test_check_passes_with_the_template_and_its_built_service(tmp_path: Path, built_bin: Path) -> None:
    root = _tree(tmp_path, built_bin)
    done = run_invoke("-r", str(REPO), "monitor.check", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   monitor   rules.yml        promtool check rules     SUCCESS: 7 rules found" in done.stdout
    assert "ok   monitor   rules.test.yml   promtool test rules      SUCCESS" in done.stdout
    assert "ok   monitor   latency_p95      metrics exported         GinsvcLatencyP95High reads " \
           "http_request_duration_seconds_bucket" in done.stdout


def test_a_metric_the_service_does_not_export_fails_the_check(tmp_path: Path, built_bin: Path) -> None:
    root = _tree(tmp_path, built_bin, lambda raw: raw.setdefault("monitoring", {}).update(
        metrics={"requests": "gin_requests_total"}))
    done = run_invoke("-r", str(REPO), "monitor.check", cwd=root)
    assert done.returncode == 1
    assert "FAIL monitor   error_rate       metrics exported         server exports no gin_requests_total: " \
           "monitoring.alerts.error_rate could never fire" in done.stderr
    assert done.stderr.strip().endswith("then rerun `invoke monitor.check`")
    # Left out on purpose, it is no longer checked (and no rule reads it).
    root = _tree(tmp_path / "skip", built_bin, lambda raw: raw.setdefault("monitoring", {}).update(
        metrics={"requests": "gin_requests_total"}, skip=["error_rate"]))
    again = run_invoke("-r", str(REPO), "monitor.check", cwd=root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "error_rate" not in again.stdout


@pytest.mark.parametrize(("keys", "problem"), [
    ({"window": "15s"}, "monitoring.window: 15s holds fewer than two scrapes at monitoring.scrape_interval 15s"),
    ({"skip": ["latency"]}, 'monitoring.skip[0]: "latency" is not allowed (did you mean "latency_p95"?)'),
    ({"scrapers": ["prometheus.internal"]}, 'monitoring.scrapers[0]: "prometheus.internal": an IP address or '
                                            "prefix such as 10.0.5.20 or 10.0.5.0/24"),
    ({"port": 80}, "monitoring.port: 80 is a port the deploy uses already"),
])
def test_bad_monitoring_settings_name_their_key(tmp_path: Path, built_bin: Path, keys: dict[str, Any],
                                                problem: str) -> None:
    root = _tree(tmp_path, built_bin, lambda raw: raw.setdefault("monitoring", {}).update(keys))
    done = run_invoke("-r", str(REPO), "monitor.render", cwd=root)
    assert done.returncode == 2, done.stdout + done.stderr
    assert problem in done.stderr and "Traceback" not in done.stderr
