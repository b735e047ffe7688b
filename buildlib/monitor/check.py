"""Check the monitoring files with promtool, and the rules against what the service really exports.

- ``promtool check rules`` and ``promtool check config`` read the rendered files;
- ``promtool test rules`` runs the generated tests (each alert fires just past
  its threshold, stays silent just short of it);
- the service binary from bin/ is started on a free loopback port and its
  metrics path read: a rule over a metric it does not export could never fire,
  so that is a failure, not a silent rule.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from .. import tools, waiting
from ..deploy.check import CheckFinding
from ..errors import ToolError
from ..service import Service
from .rules import ALERTMANAGER_FILE, RULES_FILE, SCRAPE_FILE, TESTS_FILE, AlertRule

_TYPE = re.compile(r"^# TYPE (\S+) (\w+)$", re.M)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)", re.M)


def promtool() -> str:
    return tools.which("promtool", hint="install it with `apt-get install prometheus` (Debian's package "
                       "carries promtool)")


def _run(argv: list[str], cwd: Path) -> tuple[bool, str]:
    """(passed, what it said): the check's verdict is the tool's exit status."""
    proc = tools.run(argv, cwd=cwd, timeout=120, check=False)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def promtool_checks(folder: Path) -> list[CheckFinding]:
    tool = promtool()
    found = []
    ok, out = _run([tool, "check", "rules", RULES_FILE], folder)
    found.append(CheckFinding("monitor", RULES_FILE, "promtool check rules", ok, _last_line(out) if ok else out))
    ok, out = _run([tool, "check", "config", "--syntax-only", SCRAPE_FILE], folder)
    found.append(CheckFinding("monitor", SCRAPE_FILE, "promtool check config", ok, _last_line(out) if ok else out))
    ok, out = _run([tool, "test", "rules", TESTS_FILE], folder)
    found.append(CheckFinding("monitor", TESTS_FILE, "promtool test rules", ok, _last_line(out) if ok else out))
    if (folder / ALERTMANAGER_FILE).exists():
        amtool = tools.which("amtool", hint="install it with `apt-get install prometheus-alertmanager`")
        ok, out = _run([amtool, "check-config", ALERTMANAGER_FILE], folder)
        found.append(CheckFinding("monitor", ALERTMANAGER_FILE, "amtool check-config", ok,
                                  "SUCCESS" if ok else out))
    return found


def exported(binary: Path, svc: Service, metrics_path: str, timeout: float = 15) -> set[str]:
    """The metric names ``binary`` exports: started on a free loopback port, its metrics path read."""
    if svc.port_env is None:
        raise ToolError("service.port_env is null: the service cannot be told a free port to start on for the "
                        "metrics check; name the variable it reads its port from")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
           svc.port_env: str(port), "LISTEN_ADDR": "127.0.0.1", "GIN_MODE": "release"}
    proc = subprocess.Popen([str(binary), *svc.args], cwd=binary.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        answers: list[str] = []  # an empty page is an answer too: its metrics are then missing

        def metrics() -> bool:
            if proc.poll() is not None:
                raise ToolError(f"{binary} exited ({proc.returncode}) before its metrics could be read: "
                                f"{(proc.stdout.read() if proc.stdout else '').strip()[-400:]}")
            try:
                # A labelled metric appears with its first observation: answer a few requests first.
                for path in (svc.health or "/", "/", metrics_path):
                    _get(f"http://127.0.0.1:{port}{path}")
                answers.append(_get(f"http://127.0.0.1:{port}{metrics_path}"))
            except OSError:
                return False
            return True

        if not waiting.until(metrics, timeout, 0.2):
            raise ToolError(f"{binary} did not answer http://127.0.0.1:{port}{metrics_path} within {timeout:g} s; "
                            "is monitoring.metrics_path right?")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = answers[0]
    names = set(_SAMPLE.findall(text))
    for name, kind in _TYPE.findall(text):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "summary":
            names |= {f"{name}_sum", f"{name}_count"}
    return names


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:  # an answer all the same (a 404 is counted too)
        return exc.read().decode("utf-8", "replace")


def metric_checks(rules: list[AlertRule], names: set[str], binary: Path) -> list[CheckFinding]:
    found = []
    for r in rules:
        missing = [n for n in r.reads if n not in names]
        if missing:
            found.append(CheckFinding("monitor", r.key, "metrics exported", False,
                                      f"{binary.name} exports no {', '.join(missing)}: monitoring.alerts.{r.key} could "
                                      "never fire; name the service's own metric in monitoring.metrics, export it "
                                      "(Go runtime and process metrics: client_golang's collectors), or list "
                                      f"{r.key} in monitoring.skip"))
        else:
            what = ", ".join(r.reads) if r.reads else "up (Prometheus's own)"
            found.append(CheckFinding("monitor", r.key, "metrics exported", True, f"{r.name} reads {what}"))
    return found
