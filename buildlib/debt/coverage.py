"""Go packages under the coverage floor (+3) or whose tests fail, do not build or time out (+3)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePosixPath

from .. import gotool
from ..errors import ToolError
from .item import POINTS, Item


def parse_coverprofile(text: str) -> dict[str, tuple[int, int]]:
    """Package import path -> (covered statements, total statements) from a ``go test -coverprofile`` file."""
    blocks: dict[str, tuple[int, bool]] = {}
    for raw in text.splitlines():
        if not raw or raw.startswith("mode:"):
            continue
        m = re.fullmatch(r"(.+):(\d+\.\d+,\d+\.\d+) (\d+) (\d+)", raw.strip())
        if not m:
            continue
        key = f"{m.group(1)}:{m.group(2)}"
        stmts, hit = int(m.group(3)), int(m.group(4)) > 0
        prev = blocks.get(key)
        blocks[key] = (stmts, hit or (prev is not None and prev[1]))
    per_pkg: dict[str, tuple[int, int]] = {}
    for key, (stmts, hit) in blocks.items():
        pkg = str(PurePosixPath(key.rsplit(":", 1)[0]).parent)
        covered, total = per_pkg.get(pkg, (0, 0))
        per_pkg[pkg] = (covered + (stmts if hit else 0), total + stmts)
    return per_pkg


_RESULT = re.compile(r"^(ok|FAIL)\s+(\S+)(?:\s+(.*))?$")
_TIMED_OUT = re.compile(r"^panic: test timed out after (\S+)", re.M)


def _failures(output: str) -> dict[str, str]:
    """Package import path -> why its tests did not give a coverage, from `go test ./...` output."""
    failed: dict[str, str] = {}
    block: list[str] = []
    for line in output.splitlines():
        m = _RESULT.match(line)
        if not m:
            block.append(line)
            continue
        if m.group(1) == "FAIL" and m.group(2) != "":
            text = "\n".join(block)
            timed_out = _TIMED_OUT.search(text)
            rest = m.group(3) or ""
            if timed_out:
                failed[m.group(2)] = f"tests timed out after {timed_out.group(1)} (debt.test_timeout)"
            elif "[build failed]" in rest or "[setup failed]" in rest:
                failed[m.group(2)] = "tests do not build"
            else:
                failed[m.group(2)] = "tests fail"
        block = []
    return failed


def coverage(root: Path, min_coverage: float, test_timeout: float = 120.0,
             env: dict[str, str] | None = None) -> list[Item]:
    """One item per Go package with statements: +3 under ``min_coverage`` percent, 0 otherwise; +3 and not
    measured when its tests fail, do not build or run past ``test_timeout`` seconds. ``env``: the go
    commands' environment (gotool.project_env)."""
    listed = gotool.run(root, "list", "-f", "{{.ImportPath}}\t{{.Dir}}", "./...", timeout=300, env=env, check=True,
                        hint="the debt scan measures each package's coverage; `go build ./...` must work")
    dirs = dict(line.split("\t", 1) for line in listed.stdout.splitlines() if "\t" in line)
    with tempfile.TemporaryDirectory(prefix="debt-") as tmp:
        profile = Path(tmp) / "cover.out"
        # go test's -timeout applies to each package's test binary; the whole run gets room for all of them.
        result = gotool.run(root, "test", "-count=1", "-covermode=set", f"-coverprofile={profile}",
                            f"-timeout={test_timeout:g}s", "./...", timeout=test_timeout * max(1, len(dirs)) + 300,
                            env=env)
        failed = _failures(result.stdout)
        if result.returncode != 0 and not failed:
            detail = (result.stdout + result.stderr).strip()[-2000:]
            raise ToolError(f"`go test ./...` failed before any package ran its tests; fix the module "
                            f"(`go build ./...` must work):\n{detail}")
        per_pkg = parse_coverprofile(profile.read_text() if profile.exists() else "")
    items = []
    for pkg in sorted(set(dirs) | set(failed)):
        rel = Path(dirs.get(pkg, str(root))).resolve().relative_to(root.resolve()).as_posix()
        where = "./" + rel if rel != "." else "."
        if pkg in failed:
            items.append(Item("failing", where, POINTS["failing"], f"{failed[pkg]}: coverage not measured",
                              {"package": pkg, "coverage": None, "measured": False}))
            continue
        covered, total = per_pkg.get(pkg, (0, 0))
        if total == 0:
            continue  # no statements (only types, constants or tests): nothing to cover
        pct = round(100.0 * covered / total, 1)
        low = pct < min_coverage
        items.append(Item(
            "coverage", where, POINTS["coverage"] if low else 0,
            f"{pct:.1f}% of {total} statements" + (f" (under {min_coverage:g}%)" if low else ""),
            {"package": pkg, "coverage": pct, "statements": total},
        ))
    return items
