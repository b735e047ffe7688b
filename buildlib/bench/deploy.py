"""Benchmark: a rolling deploy under load, per unit profile; ``nox -s deploy_bench``.

Starts throw-away systemd hosts (``lab``), builds releases with ``invoke
build``, then for each profile: puts every host on one release, starts the
load generator as a second process against every host's nginx, rolls the
next release out (``invoke deploy``, one host at a time) and reports the
requests, failures and versions the load saw. Ends with the exposure scores
of the rendered units and of the guide's own unit. Needs root, Docker and
debootstrap (the lab's image is built once and kept).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import config, console, tools
from ..deploy import check, render, settings
from ..tables import columns
from . import lab

GUIDE_UNIT = ("[Unit]\nDescription=Gin Application\nAfter=network.target\n[Service]\nUser=www-data\n"
              "ExecStart=/path/to/bin/app\nRestart=always\nEnvironment=PORT=8080\n[Install]\n"
              "WantedBy=multi-user.target\n")
DOMAIN = "bench.test"


def _invoke(repo: Path, root: Path, *args: str) -> float:
    started = time.monotonic()
    tools.run([sys.executable, "-m", "invoke", "-r", str(repo), *args], cwd=root, timeout=None, merge_stderr=True,
              env={**os.environ, "PYTHONPATH": str(repo), "DB_PASSWORD": "bench"}, hint="the bench stopped")
    return time.monotonic() - started


def _measure(repo: Path, root: Path, hosts: list[lab.LabHost], profile: str, start: str, target: str,
             rate: float, duration: float, releases: dict[str, Path]) -> dict[str, Any]:
    lab.use_release(root, releases[start])
    _invoke(repo, root, "deploy", "--profile", profile)
    urls = [f"http://127.0.0.1:{h.http_port}" for h in hosts]
    load = subprocess.Popen([sys.executable, "-m", "buildlib.bench.load", *urls, "--host-header", DOMAIN,
                             "--rate", str(rate), "--duration", str(duration)], cwd=repo, text=True,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(repo)})
    time.sleep(1)  # the load runs before the first host switches
    lab.use_release(root, releases[target])
    took = _invoke(repo, root, "deploy", "--profile", profile, "--batch", "1")
    out, _ = load.communicate(timeout=duration + 120)
    return {"profile": profile, "from": start, "to": target, "rollout_s": round(took, 1), **json.loads(out)}


def _scores(project: config.Project, folder: Path) -> dict[str, str]:
    cfg = settings.load(project)
    out = {}
    for profile in cfg.profiles:
        render.render(cfg, project.root, profile).write(folder / profile)
        score, rating, _ = check.exposure(folder / profile / render.service_unit(cfg, profile))
        out[profile] = f"{score:.1f} {rating}"
    guide = folder / "gin-app.service"
    guide.write_text(GUIDE_UNIT)
    score, rating, _ = check.exposure(guide)
    out["guide"] = f"{score:.1f} {rating}"
    return out


def _table(results: list[dict[str, Any]]) -> str:
    rows = [("profile", "requests", "failed", "retried", "statuses", "versions seen", "p50 ms", "p99 ms", "max ms",
             "rollout s")]
    for r in results:
        rows.append((r["profile"], str(r["requests"]), str(r["failed"]), str(r["retried"]),
                     ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items())),
                     ", ".join(f"{k}: {v}" for k, v in sorted(r["versions"].items())),
                     str(r["latency_ms"]["p50"]), str(r["latency_ms"]["p99"]), str(r["latency_ms"]["max"]),
                     str(r["rollout_s"])))
    return "\n".join(columns(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3, help="lab hosts to roll out to (default 3)")
    parser.add_argument("--rate", type=float, default=50, help="requests per second through nginx (default 50)")
    parser.add_argument("--duration", type=float, default=15, help="seconds of load per rollout (default 15)")
    parser.add_argument("--profiles", default="strict,hardened", help="unit profiles to compare")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    import docker

    project = config.load()
    repo = project.root
    client = docker.from_env(timeout=120)
    run_id = "bench-" + secrets.token_hex(3)
    with tempfile.TemporaryDirectory(prefix="deploy-bench-") as tmp_name:
        tmp = Path(tmp_name)
        image = lab.target_image()
        key, pub = lab.ssh_keypair(tmp / "ssh")
        names = [f"web{i + 1}" for i in range(args.hosts)]
        console.out(f"deploy benchmark: {args.hosts} hosts ({image}), batch 1, load {args.rate:g} req/s for "
                    f"{args.duration:g} s through each host's nginx from a second process")
        try:
            hosts = lab.start_hosts(client, image, names, run_id, pub)
            known = tmp / "known_hosts"
            known.write_text("".join(h.known_hosts_line() + "\n" for h in hosts))
            versions = ["bench.1", "bench.2", "bench.3"]
            releases = {v: lab.build_release(repo, v, tmp / "releases", tmp / "build") for v in versions}
            section = lab.deploy_section(hosts, key, known, domain=DOMAIN, groups={"web": names},
                                         health={"path": "/readyz", "version": "/version", "timeout": 30,
                                                 "interval": 0.5, "passes": 2})
            root = lab.workspace(tmp / "project", repo, section)
            plan = [("strict", "bench.1", "bench.2"), ("hardened", "bench.3", "bench.1")]
            wanted = args.profiles.split(",")
            results = [_measure(repo, root, hosts, p, a, b, args.rate, args.duration, releases)
                       for p, a, b in plan if p in wanted]
        finally:
            lab.remove(client, run_id)
        console.out(_table(results))
        for r in results:
            for line in r["errors"][:3]:
                console.out(f"  {r['profile']}: {line}")
        scores = _scores(project, tmp / "scores")
        console.out(f"exposure (systemd-analyze security --offline=true): strict {scores['strict']}, "
                    f"hardened {scores['hardened']}, the guide's unit {scores['guide']}")
        if args.json:
            console.out(json.dumps({"results": results, "exposure": scores}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
