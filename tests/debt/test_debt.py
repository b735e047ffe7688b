"""The tech-debt scorecard on small Go modules made here, with the real `go test -coverprofile`.

The dependency rule needs to know when versions were published. The only way
to make "more than six months older than the newest release" deterministic is
a module proxy whose answers the test chooses: ``fake_proxy`` serves the
proxy protocol (@v/list, @v/VERSION.info, @latest) from a dict on 127.0.0.1.
Everything else (markers, coverage, go.mod parsing, an unreachable proxy) is
real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent

import pytest

from buildlib.debt import coverage, dependencies, markers
from buildlib.template.files import repository_files
from tests.helpers.support import REPO, free_port, run_invoke

DEMO_BUILD_YAML = """\
project:
  name: demo
binaries:
  demo:
    main: ./cmd/demo
debt:
  threshold: {threshold}
"""

FILES = {
    "cmd/demo/main.go": """\
        package main

        import (
        \t"fmt"

        \t"example.org/demo/covered"
        )

        // TODO(ops): read the port from the environment
        func main() {
        \tfmt.Println(covered.Double(2), "TODO in a string is not debt", `FIXME in a raw
        string is not debt either`, 'T')
        }
        """,
    "covered/covered.go": """\
        package covered

        /* A block comment over lines:
           FIXME: overflow is not checked
        */
        func Double(x int) int { return 2 * x }
        """,
    "covered/covered_test.go": """\
        package covered

        import "testing"

        func TestDouble(t *testing.T) {
        \tif Double(3) != 6 {
        \t\tt.Fatal("Double")
        \t}
        }
        """,
    "half/half.go": """\
        package half

        func Sign(x int) int {
        \tif x > 0 {
        \t\treturn 1
        \t}
        \tif x < 0 {
        \t\treturn -1
        \t}
        \treturn 0 // TODO: and FIXME on one line count twice
        }
        """,
    "half/half_test.go": """\
        package half

        import "testing"

        func TestSign(t *testing.T) {
        \tif Sign(5) != 1 {
        \t\tt.Fatal("Sign")
        \t}
        }
        """,
    "untested/untested.go": """\
        package untested

        func Three() int { return 3 }
        """,
    "types/types.go": """\
        package types

        // Only declarations: no statements, nothing to cover.
        type ID string

        const Zero ID = ""
        """,
    "internal/version/version.go": """\
        package version

        var Version = "dev"
        """,
    "tools/gen.py": """\
        # FIXME: python comments count too
        NOTE = "TODO inside a string does not"
        """,
    "README.md": "TODO: markdown is not a source file\n",
}

# Requirements of the demo module; the fake proxy knows when each was published.
GO_MOD = """\
module example.org/demo

go 1.22

require (
\texample.org/Legacy/old v1.0.0
\texample.org/fresh v2.1.0+incompatible
\texample.org/sixmonths v1.0.0
\texample.org/indirectonly v0.1.0 // indirect
)
"""


def info(version: str, time: str) -> bytes:
    return json.dumps({"Version": version, "Time": time}).encode()


PROXY_DATA = {
    # Escaped path of example.org/Legacy/old: the proxy protocol writes upper case as !lower.
    "/example.org/!legacy/old/@v/list": b"v1.0.0\nv1.4.0\nv1.5.0-rc.1\nv1.2.0\n",
    "/example.org/!legacy/old/@v/v1.0.0.info": info("v1.0.0", "2023-01-10T08:00:00Z"),
    "/example.org/!legacy/old/@v/v1.4.0.info": info("v1.4.0", "2024-03-01T08:00:00Z"),
    "/example.org/fresh/@v/list": b"v2.1.0+incompatible\nv2.2.0+incompatible\n",
    "/example.org/fresh/@v/v2.1.0+incompatible.info": info("v2.1.0+incompatible", "2025-01-01T00:00:00Z"),
    "/example.org/fresh/@v/v2.2.0+incompatible.info": info("v2.2.0+incompatible", "2025-05-01T00:00:00Z"),
    # Exactly six months is not "more than six months".
    "/example.org/sixmonths/@v/list": b"",
    "/example.org/sixmonths/@latest": info("v1.1.0", "2025-07-15T12:00:00Z"),
    "/example.org/sixmonths/@v/v1.0.0.info": info("v1.0.0", "2025-01-15T12:00:00Z"),
}


class FakeProxy:
    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.requests.append(self.path)
                body = owner.data.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body if body is not None else b"not found")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake_proxy() -> Iterator[FakeProxy]:
    proxy = FakeProxy(PROXY_DATA)
    yield proxy
    proxy.close()


def write_module(root: Path, files: dict[str, str], go_mod: str, threshold: int = 20) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    (root / "go.mod").write_text(go_mod)
    (root / "build.yaml").write_text(DEMO_BUILD_YAML.format(threshold=threshold))
    return root


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write_module(tmp_path / "demo", FILES, GO_MOD)


def go_env(proxy_url: str) -> dict[str, str]:
    return {"GOPROXY": proxy_url, "GONOPROXY": "", "GOPRIVATE": "", "GOFLAGS": "-mod=readonly"}


def items_by(card: dict[str, object], kind: str) -> dict[str, dict[str, object]]:
    return {i["where"]: i for i in card["items"] if i["kind"] == kind}  # type: ignore[index,union-attr]


def test_go_comments_skip_strings_and_keep_lines() -> None:
    src = 'package x\n\nvar s = "// TODO not a comment"\n// TODO one\n/* a\nFIXME b */ var r = \'"\'\n'
    assert list(markers.go_comments(src)) == [(4, "// TODO one"), (5, "/* a"), (6, "FIXME b */")]


def test_coverprofile_merges_duplicate_blocks() -> None:
    text = "mode: set\nm/p/a.go:1.1,2.2 2 0\nm/p/a.go:1.1,2.2 2 1\nm/p/a.go:3.1,4.2 1 0\nm/q/b.go:1.1,1.9 4 0\n"
    assert coverage.parse_coverprofile(text) == {"m/p": (2, 3), "m/q": (0, 4)}


def test_months_and_escaping() -> None:
    assert dependencies.add_months(datetime(2025, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert dependencies.add_months(datetime(2023, 8, 31, tzinfo=UTC), 6) == datetime(2024, 2, 29, tzinfo=UTC)
    assert dependencies.escape_path("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"
    assert dependencies.release_key("v1.2.3+incompatible") == (1, 2, 3)
    assert dependencies.release_key("v1.2.4-0.20240101000000-abcdefabcdef") is None
    assert dependencies.match_patterns("*.corp.example,example.org/private", "example.org/private/x")
    assert not dependencies.match_patterns("*.corp.example,example.org/private", "example.org/public")


def test_scorecard_counts_each_rule(demo: Path, fake_proxy: FakeProxy) -> None:
    result = run_invoke("--search-root", str(REPO), "debt", "--format", "json", cwd=demo,
                        env=go_env(fake_proxy.url))
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)

    marker_items = [i for i in card["items"] if i["kind"] == "marker"]
    assert [(i["where"], i["detail"]) for i in marker_items] == [
        ("cmd/demo/main.go:9", "TODO(ops): read the port from the environment"),
        ("covered/covered.go:4", "FIXME: overflow is not checked"),
        ("half/half.go:10", "TODO: and FIXME on one line count twice"),
        ("half/half.go:10", "FIXME on one line count twice"),
        ("tools/gen.py:1", "FIXME: python comments count too"),
    ]
    assert all(i["points"] == 1 for i in marker_items)

    coverage = items_by(card, "coverage")
    assert {k: (v["coverage"], v["points"]) for k, v in coverage.items()} == {
        "./cmd/demo": (0.0, 3),
        "./covered": (100.0, 0),
        "./half": (40.0, 3),
        "./untested": (0.0, 3),
    }
    assert "./types" not in coverage  # declarations only
    assert "./internal/version" not in coverage  # a var initialiser is not a statement

    deps = items_by(card, "dependency")
    assert sorted(deps) == ["example.org/Legacy/old", "example.org/fresh", "example.org/sixmonths"]
    old = deps["example.org/Legacy/old"]
    assert (old["points"], old["newest"]) == (2, "v1.4.0")
    assert old["detail"] == "v1.0.0 (2023-01-10) is 416 days older than v1.4.0 (2024-03-01)"
    assert deps["example.org/fresh"]["points"] == 0
    assert deps["example.org/sixmonths"]["points"] == 0
    assert deps["example.org/sixmonths"]["newest"] == "v1.1.0"
    assert "/example.org/!legacy/old/@v/list" in fake_proxy.requests

    assert card["totals"] == {"marker": 5, "coverage": 9, "failing": 0, "dependency": 2}
    assert (card["score"], card["threshold"], card["passed"], card["unknown"]) == (16, 20, True, 0)
    assert json.loads((demo / ".build" / "debt.json").read_text())["score"] == 16
    history = [json.loads(line) for line in (demo / ".build" / "history.jsonl").read_text().splitlines()]
    assert [(h["kind"], h["data"]["score"]) for h in history] == [("debt", 16)]


def test_above_the_threshold_fails_with_the_table(demo: Path, fake_proxy: FakeProxy) -> None:
    (demo / "build.yaml").write_text(DEMO_BUILD_YAML.format(threshold=15))
    result = run_invoke("--search-root", str(REPO), "debt", cwd=demo, env=go_env(fake_proxy.url))
    assert result.returncode == 1
    assert re.search(r"^coverage +\./half +\+3 +40\.0% of 5 statements \(under 70%\)$", result.stdout, re.M)
    assert re.search(r"^dependency +example\.org/Legacy/old +\+2 +v1\.0\.0 \(2023-01-10\) is 416 days older than "
                     r"v1\.4\.0 \(2024-03-01\)$", result.stdout, re.M)
    assert result.stdout.rstrip().endswith("debt score 16 (ABOVE the threshold 15)")
    assert result.stderr.strip() == (
        "error: debt score 16 is above the threshold 15 (build.yaml debt.threshold); "
        "pay some of the items above back, or raise the threshold on purpose"
    )
    # --threshold overrides build.yaml.
    result = run_invoke("--search-root", str(REPO), "debt", "--threshold", "16", cwd=demo,
                        env=go_env(fake_proxy.url))
    assert result.returncode == 0, result.stderr


def test_unreachable_proxy_is_unknown_never_zero(demo: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run_invoke("--search-root", str(REPO), "debt", "--format", "json", cwd=demo, env=go_env(closed))
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    deps = items_by(card, "dependency")
    assert len(deps) == 3
    for item in deps.values():
        assert item["points"] is None
        assert item["detail"].startswith(f"unknown: the module proxy {closed} could not be reached (")
    assert card["unknown"] == 3
    assert card["totals"]["dependency"] == 0
    table = run_invoke("--search-root", str(REPO), "debt", cwd=demo, env=go_env(closed)).stdout
    assert re.search(r"^dependency +example\.org/fresh +unknown +unknown: the module proxy", table, re.M)
    assert "markers +5, coverage +9, failing tests +0, dependencies +0, 3 unknown" in table


def test_direct_proxy_setting_is_unknown(demo: Path) -> None:
    result = run_invoke("--search-root", str(REPO), "debt", "--format", "json", cwd=demo, env=go_env("direct"))
    assert result.returncode == 0, result.stderr
    details = {i["detail"] for i in json.loads(result.stdout)["items"] if i["kind"] == "dependency"}
    assert details == {"unknown: GOPROXY=direct names no module proxy to ask"}


def test_a_repository_without_tests_reports_zero_per_package(tmp_path: Path) -> None:
    files = {
        "cmd/demo/main.go": "package main\n\nimport \"example.org/demo/lib\"\n\nfunc main() { lib.F() }\n",
        "lib/lib.go": "package lib\n\nfunc F() int {\n\tx := 1\n\treturn x\n}\n",
        "internal/version/version.go": "package version\n\nvar Version = \"dev\"\n",
    }
    root = write_module(tmp_path / "notests", files, "module example.org/demo\n\ngo 1.22\n")
    result = run_invoke("--search-root", str(REPO), "debt", "--format", "json", cwd=root, env=go_env("off"))
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    assert [(i["where"], i["coverage"], i["points"]) for i in card["items"]] == [
        ("./cmd/demo", 0.0, 3), ("./lib", 0.0, 3)]
    assert card["score"] == 6


def test_the_scan_compiles_into_build_yaml_s_go_cache(tmp_path: Path) -> None:
    """cache.gocache is where every go command of the project compiles, the debt scan's `go test` too,
    unless the environment names another GOCACHE (which wins, as it does for a build)."""
    files = {
        "cmd/demo/main.go": "package main\n\nfunc main() {}\n",
        "lib/lib.go": "package lib\n\nfunc F() int {\n\tx := 1\n\treturn x\n}\n",
        "lib/lib_test.go": "package lib\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { F() }\n",
        "internal/version/version.go": "package version\n\nvar Version = \"dev\"\n",
    }
    root = write_module(tmp_path / "cached", files, "module example.org/demo\n\ngo 1.22\n")
    (root / "build.yaml").write_text((root / "build.yaml").read_text() + "cache:\n  gocache: .gocache\n")
    env = {k: v for k, v in os.environ.items() if k != "GOCACHE"}
    result = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(REPO), "debt", "--format",
                             "json"], cwd=root, env={**env, **go_env("off")}, text=True, capture_output=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert items_by(json.loads(result.stdout), "coverage")["./lib"]["coverage"] == 100.0
    assert any((root / ".gocache").rglob("*-d")), "the scan's go test did not compile into cache.gocache (.gocache/)"

    # The environment's GOCACHE (here Go's default, warm from the other tests) wins over build.yaml.
    default = subprocess.run(["go", "env", "GOCACHE"], env=env, text=True, capture_output=True).stdout.strip()
    shutil.rmtree(root / ".gocache")
    result = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(REPO), "debt", "--format",
                             "json"], cwd=root, env={**env, **go_env("off"), "GOCACHE": default},
                            text=True, capture_output=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert not (root / ".gocache").exists()


def test_failing_and_hanging_packages_are_debt_and_the_rest_is_scored(tmp_path: Path) -> None:
    """A real project's tests fail or dial servers that are not there: the card still comes, and says so."""
    files = {
        "cmd/demo/main.go": "package main\n\nfunc main() {}\n",
        "internal/version/version.go": "package version\n\nvar Version = \"dev\"\n",
        "lib/lib_test.go": "package lib\n\nimport \"testing\"\n\nfunc TestNo(t *testing.T) { t.Fatal(\"broken\") }\n",
        "lib/lib.go": "package lib\n\n// F is covered by no passing test.\nfunc F() int {\n\tx := 1\n\treturn x\n}\n",
        "mail/mail_test.go": "package mail\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\n"
                             "// Stands for a test that waits on an outside server forever.\n"
                             "func TestSend(t *testing.T) { time.Sleep(time.Hour) }\n",
        "mail/mail.go": "package mail\n\n// Send is never reached.\nfunc Send() int {\n\tn := 2\n\treturn n\n}\n",
        "good/good.go": "package good\n\n// G is covered.\nfunc G() int {\n\ty := 3\n\treturn y\n}\n",
        "good/good_test.go": "package good\n\nimport \"testing\"\n\nfunc TestG(t *testing.T) {\n"
                             "\tif G() != 3 {\n\t\tt.Fatal(G())\n\t}\n}\n",
    }
    root = write_module(tmp_path / "failing", files, "module example.org/demo\n\ngo 1.22\n")
    (root / "build.yaml").write_text((root / "build.yaml").read_text() + "  test_timeout: 3\n")
    started = time.monotonic()
    result = run_invoke("--search-root", str(REPO), "debt", "--format", "json", cwd=root, env=go_env("off"))
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    failing = items_by(card, "failing")
    assert {w: (i["points"], i["detail"]) for w, i in failing.items()} == {
        "./lib": (3, "tests fail: coverage not measured"),
        "./mail": (3, "tests timed out after 3s (debt.test_timeout): coverage not measured"),
    }
    assert card["not_measured"] == ["./lib", "./mail"]
    covered = items_by(card, "coverage")
    assert covered["./good"]["coverage"] == 100.0 and covered["./good"]["points"] == 0
    assert "./lib" not in covered and "./mail" not in covered  # never a coverage number for what did not run
    assert card["totals"]["failing"] == 6 and card["score"] == 6  # cmd/demo has no statements to cover
    assert took < 60, f"the hanging package was not time-boxed: {took:.0f}s"
    table = run_invoke("--search-root", str(REPO), "debt", cwd=root, env=go_env("off")).stdout
    assert ("not measured: the coverage of 2 package(s) whose tests failed, did not build or timed out: "
            "./lib, ./mail") in table


def test_the_template_itself_has_a_card() -> None:
    """The real repository: every Go package appears with its coverage; the markers scanned are its own."""
    root = REPO
    files = repository_files(root, skip_top=["bin"])
    assert "buildlib/debt/card.py" in files
    assert not any(f.startswith((".git/", "bin/", ".nox/")) or "/__pycache__/" in f for f in files)
