"""`invoke report`: the HTML page shows the numbers of the result files it is given, and needs no network."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from buildlib.report import history
from tests.helpers.support import REPO, run_invoke

BUILD_YAML = "project:\n  name: shop\nbinaries:\n  api:\n    main: ./cmd/api\n"

MANIFEST = {
    "schema": 1, "project": "shop", "version": "1.4.0", "commit": "abc1234", "date": "2026-11-01T00:00:00Z",
    "profile": "release", "go_version": "go1.26.8",
    "targets": {
        "api:linux/amd64": {"binary": "api", "platform": "linux/amd64", "duration": 4.25, "size": 22_600_000,
                            "status": "built", "path": "bin/linux_amd64/api"},
        "api:linux/arm64": {"binary": "api", "platform": "linux/arm64", "duration": 3.5, "size": 21_100_000,
                            "status": "built", "path": "bin/linux_arm64/api"},
        "api:darwin/arm64": {"binary": "api", "platform": "darwin/arm64", "duration": 0.02, "size": 21_500_000,
                             "status": "skipped", "path": "bin/darwin_arm64/api"},
    },
}
BENCH = {
    "machine": {"cpus": 2, "capacity": "2 CPUs", "go": "go1.26.8"},
    "measures": [
        {"case": "a", "mode": "cold", "wall": 61.5, "cpu": 100.0, "cpu_share": 1.6},
        {"case": "a", "mode": "warm", "wall": 6.5, "cpu": 3.4, "cpu_share": 0.5},
        {"case": "e", "mode": "cold", "wall": 38.0, "cpu": 70.0, "cpu_share": 1.8},
        {"case": "e", "mode": "warm", "wall": 2.6, "cpu": 3.3, "cpu_share": 1.3},
        {"case": "e", "mode": "noop", "wall": 0.48, "cpu": 0.26, "cpu_share": 0.5},
        {"case": "b", "mode": "noop", "wall": 0.86, "cpu": 0.68, "cpu_share": 0.8},
    ],
}
# As `invoke image.check --report FILE` writes it (trimmed to what the report reads, plus a policy-only entry).
SIZES = {"ok": False, "problems": ["debian-slim: the image is 86.40 MB, 6.40 MB over its budget"], "images": [
    {"variant": "scratch", "image": "shop:scratch", "ok": True,
     "size": {"variant": "scratch", "size": 23_950_000, "budget": 25_000_000, "layers": 2}},
    {"variant": "debian-slim", "image": "shop:debian-slim", "ok": False,
     "size": {"variant": "debian-slim", "size": 86_400_000, "budget": 80_000_000, "layers": 5}},
    {"variant": "", "image": "example/base:1", "ok": True, "size": None},
]}
DEBT = {"schema": 1, "score": 23, "threshold": 20, "passed": False, "unknown": 1,
        "totals": {"marker": 2, "coverage": 21, "dependency": 0},
        "items": [{"kind": "coverage", "where": "./internal/api", "points": 3, "detail": "10.0% of 50 statements"},
                  {"kind": "dependency", "where": "example.org/x", "points": None, "detail": "unknown: offline"}]}


class Charts(HTMLParser):
    """Every svg of the page by id, with the attributes of the shapes that carry data-value."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[tuple[str, dict[str, str]]]] = {}
        self.current: str | None = None
        self.tags: set[str] = set()
        self.texts: dict[str, list[str]] = {}
        self._in_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if tag == "svg":
            self.current = a["id"]
            self.charts[self.current] = []
            self.texts[self.current] = []
        elif self.current and "data-value" in a:
            self.charts[self.current].append((tag, a))
        self._in_text = tag == "text"

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None
        self._in_text = False

    def handle_data(self, data: str) -> None:
        if self.current and self._in_text:
            self.texts[self.current].append(data)

    def bars(self, chart: str) -> dict[tuple[str, str], float]:
        return {(a["data-label"], a["data-group"]): float(a["data-value"])
                for tag, a in self.charts[chart] if tag == "rect"}

    def markers(self, chart: str) -> list[float]:
        return [float(a["data-value"]) for tag, a in self.charts[chart] if a.get("class") == "marker"]

    def points(self, chart: str) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for tag, a in self.charts[chart]:
            if tag == "circle":
                out.setdefault(a["data-series"], []).append(float(a["data-value"]))
        return out


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    for pkg in ("cmd/api", "internal/version"):
        (root / pkg).mkdir(parents=True)
    (root / "build.yaml").write_text(BUILD_YAML)
    return root


def write_results(root: Path) -> None:
    (root / "bin").mkdir(exist_ok=True)
    (root / "bin" / "manifest.json").write_text(json.dumps(MANIFEST))
    (root / ".build").mkdir(exist_ok=True)
    (root / ".build" / "bench.json").write_text(json.dumps(BENCH))
    (root / ".build" / "size_check.json").write_text(json.dumps(SIZES))
    (root / ".build" / "debt.json").write_text(json.dumps(DEBT))


def seed_history(root: Path) -> None:
    """Two earlier results of each kind, recorded a day apart (before the current files)."""
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    for i, factor in enumerate((1.5, 1.2)):
        when = start + timedelta(days=i)
        manifest = json.loads(json.dumps(MANIFEST))
        for t in manifest["targets"].values():
            t["duration"] = round(t["duration"] * factor, 3)
        history.record("build", manifest, root, time=when)
        history.record("size_check", {"images": {"scratch": {"size": 20_000_000 + i * 1_000_000,
                                                             "budget": 25_000_000}}}, root, time=when)
        history.record("debt", {**DEBT, "score": 15 + i}, root, time=when)


def parse(path: Path) -> tuple[Charts, str]:
    text = path.read_text()
    charts = Charts()
    charts.feed(text)
    return charts, text


def test_the_page_shows_the_numbers_of_the_results(shop: Path) -> None:
    seed_history(shop)
    write_results(shop)
    result = run_invoke("--search-root", str(REPO), "report", cwd=shop)
    assert result.returncode == 0, result.stderr
    page = shop / ".build" / "report.html"
    assert f"wrote {page}" in result.stdout
    charts, text = parse(page)

    assert charts.bars("chart-build-times") == {
        ("api:linux/amd64", ""): 4.25, ("api:linux/arm64", ""): 3.5, ("api:darwin/arm64", ""): 0.02}
    assert "4.2 s · 22.6 MB" in charts.texts["chart-build-times"]
    assert "20 ms · 21.5 MB · up to date" in charts.texts["chart-build-times"]

    bench = charts.bars("chart-bench")
    assert bench == {
        ("serial loop (go build per target)", "cold"): 61.5, ("serial loop (go build per target)", "warm"): 6.5,
        ("invoke build --jobs auto", "cold"): 38.0, ("invoke build --jobs auto", "warm"): 2.6}
    assert charts.bars("chart-noop") == {("invoke build --jobs auto", ""): 0.48, ("go build per platform", ""): 0.86}
    assert "<b>2.5×</b> faster" in text  # 6.5 s / 2.6 s

    assert charts.bars("chart-image-sizes") == {("scratch", ""): 23_950_000, ("debian-slim", ""): 86_400_000}
    assert charts.markers("chart-image-sizes") == [25_000_000, 80_000_000]
    assert "86.4 MB of 80 MB (108%)" in charts.texts["chart-image-sizes"]
    fills = {a["data-label"]: a["fill"] for tag, a in charts.charts["chart-image-sizes"] if tag == "rect"}
    assert fills["debian-slim"] != fills["scratch"]
    assert "1 over budget: debian-slim" in text

    assert charts.bars("chart-debt")[("total", "")] == 23
    assert charts.markers("chart-debt") == [20]
    assert "unknown: offline" in text

    # Trends: the two seeded results, then the current files, in time order.
    assert charts.points("chart-trend-sizes") == {"scratch": [20_000_000, 21_000_000, 23_950_000],
                                                  "debian-slim": [86_400_000]}
    assert charts.points("chart-trend-build") == {"compile time of the targets built": [11.625, 9.3, 7.75]}
    assert charts.points("chart-trend-debt") == {"debt score": [15, 16, 23]}
    assert charts.points("chart-trend-bench") == {"serial warm": [6.5], "jobs auto warm": [2.6],
                                                  "serial cold": [61.5], "jobs auto cold": [38.0]}


def test_the_page_needs_no_network(shop: Path) -> None:
    write_results(shop)
    assert run_invoke("--search-root", str(REPO), "report", cwd=shop).returncode == 0
    charts, text = parse(shop / ".build" / "report.html")
    assert len(charts.charts) >= 6
    assert "script" not in charts.tags and "link" not in charts.tags and "img" not in charts.tags
    assert not re.search(r"https?:|//[a-z]|url\(|@import|src=|href=", text, re.I)


def test_results_are_recorded_once(shop: Path) -> None:
    write_results(shop)
    for _ in range(2):
        assert run_invoke("--search-root", str(REPO), "report", cwd=shop).returncode == 0
    lines = [json.loads(line) for line in (shop / ".build" / "history.jsonl").read_text().splitlines()]
    assert sorted(e["kind"] for e in lines) == ["bench", "build", "debt", "size_check"]
    assert next(e for e in lines if e["kind"] == "build")["data"] == MANIFEST


def test_without_results_the_page_says_what_to_run(shop: Path) -> None:
    result = run_invoke("--search-root", str(REPO), "report", "--output", "out/r.html", cwd=shop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "build       none yet   history: 0 result(s)",
        "bench       none yet   history: 0 result(s)",
        "size_check  none yet   history: 0 result(s)",
        "debt        none yet   history: 0 result(s)",
    ]
    text = (shop / "out" / "r.html").read_text()
    for command in ("invoke build", "invoke bench", "nox -s size_check", "invoke debt"):
        assert f"run <code>{command}</code>" in text


def test_a_broken_result_file_is_named(shop: Path) -> None:
    write_results(shop)
    (shop / ".build" / "bench.json").write_text("{not json")
    result = run_invoke("--search-root", str(REPO), "report", cwd=shop)
    assert result.returncode == 1
    assert result.stderr.startswith("error: .build/bench.json: not valid JSON (")
    (shop / ".build" / "bench.json").write_text(json.dumps({"cases": []}))
    result = run_invoke("--search-root", str(REPO), "report", cwd=shop)
    assert result.stderr.strip() == 'error: .build/bench.json: expected bench figures with a "measures" list'


def test_explicit_paths_and_no_record(shop: Path, tmp_path: Path) -> None:
    debt = tmp_path / "debt-from-ci.json"
    debt.write_text(json.dumps({**DEBT, "score": 7}))
    result = run_invoke("--search-root", str(REPO), "report", "--debt", str(debt), "--no-record", cwd=shop)
    assert result.returncode == 0, result.stderr
    charts, _ = parse(shop / ".build" / "report.html")
    assert charts.bars("chart-debt")[("total", "")] == 7
    assert not (shop / ".build" / "history.jsonl").exists()


def test_concurrent_records_never_interleave(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from buildlib.report import history\n"
            "for i in range(60): history.record('debt', {'score': i, 'who': sys.argv[1], 'pad': 'x' * 3000}, "
            "Path(sys.argv[2]))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n), str(tmp_path)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    lines = (tmp_path / ".build" / "history.jsonl").read_text().splitlines()
    entries: list[dict[str, Any]] = [json.loads(line) for line in lines]
    assert sorted((e["data"]["who"], e["data"]["score"]) for e in entries) == sorted(
        (str(n), i) for n in range(4) for i in range(60))
