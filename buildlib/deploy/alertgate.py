"""The alert gate: after a batch passed its HTTP health gate, named alerts must stay silent.

The deployer asks the Prometheus that scrapes the fleet (deploy.alert_gate.prometheus)
for ``ALERTS{alertname=~"...", host=~"<the batch's hosts>"}`` every couple of seconds
for ``quiet`` seconds. A pending alert counts: it means the expression is already over
its threshold. A host it names fails its gate; the batch goes back as it does when a
host fails the HTTP gate.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from .. import waiting
from ..errors import ToolError

POLL_SECONDS = 2.0


@dataclass(frozen=True)
class AlertGate:
    prometheus: str          # base URL, e.g. http://prometheus.internal:9090
    alerts: tuple[str, ...]  # alert names (never empty: an empty list is a config error)
    quiet: float             # seconds they must stay silent


def query(gate: AlertGate, hosts: list[str]) -> str:
    names = "|".join(re.escape(a) for a in gate.alerts)
    where = "|".join(re.escape(h) for h in hosts)
    return f'ALERTS{{alertname=~"{names}",host=~"{where}"}}'


def active(gate: AlertGate, hosts: list[str]) -> dict[str, list[str]]:
    """host -> ["AlertName (pending|firing)", ...] for the gate's alerts now."""
    import urllib.parse  # only a rollout with an alert gate asks Prometheus
    import urllib.request

    url = f"{gate.prometheus.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": query(gate, hosts)})
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            data = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        raise ToolError(f"the alert gate could not ask Prometheus at {gate.prometheus} ({exc}); is "
                        "deploy.alert_gate.prometheus right and the server up?") from exc
    out: dict[str, list[str]] = {}
    for series in data.get("data", {}).get("result", []):
        labels = series.get("metric", {})
        out.setdefault(labels.get("host", "?"), []).append(f"{labels.get('alertname')} ({labels.get('alertstate')})")
    return out


def watch(gate: AlertGate, hosts: list[str], stop: Callable[[], bool],
          clock: Callable[[], float] = time.monotonic) -> dict[str, list[str]]:
    """Poll for ``gate.quiet`` seconds; the hosts an alert named as soon as one does (empty: all quiet)."""
    found: dict[str, list[str]] = {}

    def fired() -> bool:
        found.update(active(gate, hosts))
        return bool(found) or stop()

    waiting.until(fired, gate.quiet, POLL_SECONDS, clock)
    return found
