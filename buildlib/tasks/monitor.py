"""Monitoring: `invoke monitor.render` and `monitor.check` (Prometheus rules, scrape job, promtool tests)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Collection, Context

from .. import console, layout
from .common import not_blank, project, task

if TYPE_CHECKING:
    from ..config import Project
    from ..monitor.settings import MonitorConfig

RENDER_DIR = str(layout.MONITOR)


def _render(p: Project, folder: Path) -> tuple[MonitorConfig, list[Path]]:
    from ..deploy import settings as deploy_settings
    from ..monitor import rules, settings

    mon = settings.load(p)
    docs = {
        rules.RULES_FILE: rules.rules_doc(mon),
        rules.SCRAPE_FILE: rules.scrape_doc(mon, deploy_settings.load(p)),
        rules.TESTS_FILE: rules.tests_doc(mon),
    }
    if (am := rules.alertmanager_doc(mon)) is not None:
        docs[rules.ALERTMANAGER_FILE] = am
    return mon, rules.write(folder, docs)


@task(help={"out": f"directory to write the Prometheus files into (default {RENDER_DIR}/)"})
def render(c: Context, out: str | None = None) -> None:
    """Write the alerting and recording rules, the fleet's scrape job and the rules' promtool tests."""
    out = not_blank("out", out, RENDER_DIR)
    p = project(c)
    folder = Path(out) if out is not None else p.root / RENDER_DIR
    _, written = _render(p, folder)
    console.out(f"rendered into {folder}")
    for path in written:
        console.out(f"  {path.name}")


@task
def check(c: Context) -> None:
    """Check the rules with promtool (and its tests) and against the built service's metrics."""
    import platform as host
    import tempfile

    from ..deploy.check import raise_failures
    from ..deploy.fleet import UNAME_ARCH
    from ..deploy.release import load_release
    from ..monitor import check as checks
    from ..monitor import rules
    from ..service import load as load_service

    p = project(c)
    with tempfile.TemporaryDirectory(prefix="monitor-check-") as tmp:
        mon, _ = _render(p, Path(tmp))
        findings = checks.promtool_checks(Path(tmp))
    svc = load_service(p)
    here = f"{host.system().lower()}/{UNAME_ARCH.get(host.machine(), host.machine())}"
    # The built service for this machine (checked against bin/manifest.json), to read what it exports.
    binary = load_release(p, svc.binary, {here: ["this machine (monitor.check)"]}).artifacts[here].path
    names = checks.exported(binary, svc, mon.metrics_path)
    findings += checks.metric_checks(rules.alerts(mon), names, binary)
    for f in findings:
        console.out(f.line())
    raise_failures(findings, "Fix build.yaml's monitoring: section (thresholds, monitoring.metrics, "
                             "monitoring.skip), then rerun `invoke monitor.check`")


ns = Collection("monitor", render, check)
