"""A bounded, fixed-rate HTTP load: ``python -m buildlib.bench.load URL... --rate R --duration S``.

Runs as its own process next to a rollout, so the deploy's threads and the
load's timing do not share an interpreter. Requests are spread round-robin
over the URLs (one per host's nginx) at a fixed rate, cycling through
``--paths`` (default ``/api/v1/ping`` and ``/version``); answers of the
``--version-path`` show which versions answered while the release changed.
Prints one JSON object: requests, failures (any status but 200, or no
answer), status counts, versions seen, latencies, and how many requests were
retried.

Like the HTTP clients people use (Go's net/http, urllib3, browsers: RFC 9112,
9.3.1), a request sent on a reused keep-alive connection that the server had
already closed, and that got no byte of answer, is sent once more on a fresh
connection; it counts as retried, not as failed. nginx closes idle keep-alive
connections when it reloads. Only loopback URLs are accepted and rate and
duration are capped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from .. import console

MAX_RATE = 500
MAX_DURATION = 120
PATHS = ("/api/v1/ping", "/version")


class LoadTarget:
    """One nginx, with a keep-alive connection per worker thread."""

    def __init__(self, url: str, host_header: str) -> None:
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"load: {url}: only loopback targets are allowed")
        self.host, self.port, self.host_header = parts.hostname, parts.port or 80, host_header
        self.local = threading.local()

    def get(self, path: str, timeout: float) -> tuple[int, bytes, bool]:
        """(status, body, retried)."""
        conn = getattr(self.local, "conn", None)
        reused = conn is not None
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            try:
                conn.request("GET", path, headers={"Host": self.host_header})
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                conn.close()
                self.local.conn = None
                status, body, _ = self.get(path, timeout)  # a fresh connection now: no second retry
                return status, body, True
            return resp.status, resp.read(), False  # a failure here had answer bytes: never retried
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            raise


def run(urls: list[str], host_header: str, rate: float, duration: float, timeout: float,
        paths: tuple[str, ...] = PATHS, version_path: str | None = "/version") -> dict[str, object]:
    rate, duration = min(rate, MAX_RATE), min(duration, MAX_DURATION)
    targets = [LoadTarget(u, host_header) for u in urls]
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    retried = [0]

    def one(i: int) -> None:
        target, path = targets[i % len(targets)], paths[(i // len(targets)) % len(paths)]
        started = time.monotonic()
        again = False
        try:
            status, body, again = target.get(path, timeout)
            key = str(status)
        except Exception as exc:  # noqa: BLE001 - every failure counts, whatever it is
            status, body, key = 0, b"", type(exc).__name__
        took = time.monotonic() - started
        with lock:
            retried[0] += again
            statuses[key] += 1
            latencies.append(took)
            if status != 200 and len(errors) < 20:
                errors.append(f"{time.strftime('%H:%M:%S')} {target.port}{path}: {key} {body[:120]!r}")
            if path == version_path and status == 200:
                try:
                    versions[str(json.loads(body).get("version", "?"))] += 1
                except (ValueError, AttributeError):
                    versions["(not JSON)"] += 1

    total = int(rate * duration)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i in range(total):
            # Fixed schedule: request i leaves at began + i/rate, whatever earlier ones are doing.
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
    elapsed = time.monotonic() - began
    latencies.sort()
    failed = sum(n for k, n in statuses.items() if k != "200")

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {
        "requests": sum(statuses.values()), "failed": failed, "statuses": dict(statuses),
        "versions": dict(versions), "rate": rate, "seconds": round(elapsed, 1),
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)}, "retried": retried[0],
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+", help="base URLs of the nginx sites, e.g. http://127.0.0.1:8080")
    parser.add_argument("--host-header", default="localhost", help="Host header (the site's server_name)")
    parser.add_argument("--rate", type=float, default=50, help=f"requests per second (at most {MAX_RATE})")
    parser.add_argument("--duration", type=float, default=10, help=f"seconds (at most {MAX_DURATION})")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for one answer")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated paths requested in turn")
    parser.add_argument("--version-path", default="/version",
                        help='the path answering JSON with "version" (counted per version seen); "" for none')
    args = parser.parse_args(argv)
    paths = tuple(p for p in args.paths.split(",") if p)
    if not paths or any(not p.startswith("/") for p in paths):
        parser.error(f'--paths "{args.paths}": give one or more paths starting with "/", comma-separated')
    result = run(args.urls, args.host_header, args.rate, args.duration, args.timeout, paths,
                 args.version_path or None)
    console.out(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
