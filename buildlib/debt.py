"""The tech-debt scorecard: a number that goes up as the repository gets harder to change.

The rules (points per item):

- +1 per TODO or FIXME marker in a comment of a Go or Python source file;
- +3 per Go package whose statement coverage (``go test -coverprofile``) is
  under ``debt.min_coverage`` percent (70); a package without tests is 0%;
- +3 per Go package whose tests fail, do not build, or run longer than
  ``debt.test_timeout`` seconds (120): its coverage is not measured, and the
  card says so, so a number never hides what was left out;
- +2 per direct dependency of go.mod whose required version was published
  more than ``debt.max_dependency_age_months`` (6) months before the newest
  release, as the module proxy (first entry of ``go env GOPROXY``) tells.
  When that cannot be known (no proxy, proxy unreachable, module unknown to
  it) the item is "unknown": it has no points, and is listed as such.

A score above ``debt.threshold`` (20) fails ``invoke debt``.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tempfile
import tokenize
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .config import Project
from .errors import ToolError
from .gotool import find_go
from .template.files import repository_files

SECTION = "debt"
POINTS = {"marker": 1, "coverage": 3, "failing": 3, "dependency": 2}
MARKER = re.compile(r"\b(TODO|FIXME)\b")
PROXY_TIMEOUT = 10.0



@dataclass
class Settings:
    threshold: int = 20
    min_coverage: float = 70.0
    max_dependency_age_months: int = 6
    test_timeout: float = 120.0

    @classmethod
    def of(cls, project: Project) -> Settings:
        raw = project.extra.get(SECTION) or {}
        keys = ("threshold", "min_coverage", "max_dependency_age_months", "test_timeout")
        return cls(**{k: raw[k] for k in keys if k in raw})


@dataclass
class Item:
    """One line of the scorecard. ``points`` is None when it cannot be known ("unknown")."""

    kind: str  # marker | coverage | failing | dependency
    where: str
    points: int | None
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def unknown(self) -> bool:
        return self.points is None


@dataclass
class Scorecard:
    project: str
    time: str
    settings: Settings
    items: list[Item]

    @property
    def score(self) -> int:
        return sum(i.points or 0 for i in self.items)

    @property
    def unknown(self) -> int:
        return sum(1 for i in self.items if i.unknown)

    @property
    def passed(self) -> bool:
        return self.score <= self.settings.threshold

    @property
    def not_measured(self) -> list[str]:
        """Packages whose coverage is not in the score (their tests failed, did not build or timed out)."""
        return [i.where for i in self.items if i.kind == "failing"]

    def totals(self) -> dict[str, int]:
        return {kind: sum(i.points or 0 for i in self.items if i.kind == kind) for kind in POINTS}

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "project": self.project,
            "time": self.time,
            "score": self.score,
            "threshold": self.settings.threshold,
            "passed": self.passed,
            "unknown": self.unknown,
            "not_measured": self.not_measured,
            "totals": self.totals(),
            "rules": {"points": POINTS, "min_coverage": self.settings.min_coverage,
                      "max_dependency_age_months": self.settings.max_dependency_age_months,
                      "test_timeout": self.settings.test_timeout},
            "items": [{k: v for k, v in asdict(i).items() if k != "facts"} | i.facts for i in self.items],
        }

    def table(self) -> str:
        rows = [("kind", "where", "points", "detail")]
        for i in self.items:
            rows.append((i.kind, i.where, "unknown" if i.unknown else f"+{i.points}", i.detail))
        widths = [min(max(len(r[c]) for r in rows), 60) for c in range(3)]
        lines = ["  ".join(r[c].ljust(widths[c]) for c in range(3)) + "  " + r[3] for r in rows]
        t = self.totals()
        lines.append("")
        lines.append(f"markers +{t['marker']}, coverage +{t['coverage']}, failing tests +{t['failing']}, "
                     f"dependencies +{t['dependency']}" + (f", {self.unknown} unknown" if self.unknown else ""))
        if self.not_measured:
            lines.append(f"not measured: the coverage of {len(self.not_measured)} package(s) whose tests failed, "
                         f"did not build or timed out: {', '.join(self.not_measured)}")
        verdict = "within" if self.passed else "ABOVE"
        lines.append(f"debt score {self.score} ({verdict} the threshold {self.settings.threshold})")
        return "\n".join(line.rstrip() for line in lines) + "\n"


# --- markers -------------------------------------------------------------------------------------------------


def go_comments(text: str) -> Iterable[tuple[int, str]]:
    """(line, text) of every comment in Go source; strings, raw strings and runes are skipped."""
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            yield line, text[i:end]
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for k, part in enumerate(text[i:end].split("\n")):
                yield line + k, part
            line += text.count("\n", i, end)
            i = end
        elif ch == "`":
            end = text.find("`", i + 1)
            end = n if end < 0 else end + 1
            line += text.count("\n", i, end)
            i = end
        elif ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        else:
            i += 1


def python_comments(text: str) -> Iterable[tuple[int, str]]:
    """(line, text) of every ``#`` comment in Python source."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # A file Python cannot tokenize still has its comment lines counted.
        for no, raw in enumerate(text.splitlines(), 1):
            if raw.lstrip().startswith("#"):
                yield no, raw.strip()


def markers(root: Path, files: Iterable[str]) -> list[Item]:
    items: list[Item] = []
    for rel in files:
        if rel.endswith(".go"):
            comments: Callable[[str], Iterable[tuple[int, str]]] = go_comments
        elif rel.endswith(".py"):
            comments = python_comments
        else:
            continue
        try:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line, comment in comments(text):
            for m in MARKER.finditer(comment):
                snippet = comment[m.start():].strip()
                snippet = snippet if len(snippet) <= 70 else snippet[:67] + "..."
                items.append(Item("marker", f"{rel}:{line}", POINTS["marker"], snippet))
    return items


# --- coverage ------------------------------------------------------------------------------------------------


def _go(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_go(root), *args], cwd=root, capture_output=True, text=True, timeout=timeout)


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


def coverage(root: Path, min_coverage: float, test_timeout: float = 120.0) -> list[Item]:
    """One item per Go package with statements: +3 under ``min_coverage`` percent, 0 otherwise; +3 and not
    measured when its tests fail, do not build or run past ``test_timeout`` seconds."""
    listed = _go(root, "list", "-f", "{{.ImportPath}}\t{{.Dir}}", "./...", timeout=300)
    if listed.returncode != 0:
        raise ToolError(f"`go list ./...` failed in {root}:\n{listed.stderr.strip()[-2000:]}")
    dirs = dict(line.split("\t", 1) for line in listed.stdout.splitlines() if "\t" in line)
    with tempfile.TemporaryDirectory(prefix="debt-") as tmp:
        profile = Path(tmp) / "cover.out"
        # go test's -timeout applies to each package's test binary; the whole run gets room for all of them.
        result = _go(root, "test", "-count=1", "-covermode=set", f"-coverprofile={profile}",
                     f"-timeout={test_timeout:g}s", "./...", timeout=test_timeout * max(1, len(dirs)) + 300)
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


# --- dependencies --------------------------------------------------------------------------------------------


def escape_path(module: str) -> str:
    """The proxy protocol's case-encoding: every upper-case letter becomes '!' and its lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)


_SEMVER = re.compile(r"v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def release_key(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a release version; None for pre-releases and pseudo-versions."""
    m = _SEMVER.fullmatch(version)
    if not m or m.group(4):
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def add_months(t: datetime, months: int) -> datetime:
    y, m = divmod(t.month - 1 + months, 12)
    year, month = t.year + y, m + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
            31][month - 1]
    return t.replace(year=year, month=month, day=min(t.day, days))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def match_patterns(patterns: str, module: str) -> bool:
    """Go's GONOPROXY/GOPRIVATE matching: a comma list of globs, each matching a path prefix."""
    import fnmatch

    for pat in (p.strip().rstrip("/") for p in patterns.split(",")):
        if not pat:
            continue
        n = pat.count("/") + 1
        prefix = "/".join(module.split("/")[:n])
        if module.count("/") + 1 >= n and fnmatch.fnmatchcase(prefix, pat):
            return True
    return False


@dataclass
class Proxy:
    """The module proxy to ask: ``go env GOPROXY``'s first entry (None when it is "direct" or "off")."""

    url: str | None
    setting: str
    noproxy: str = ""

    @classmethod
    def from_go_env(cls, root: Path) -> Proxy:
        result = _go(root, "env", "-json", "GOPROXY", "GONOPROXY", timeout=60)
        if result.returncode != 0:
            raise ToolError(f"`go env` failed: {result.stderr.strip()}")
        env = json.loads(result.stdout)
        setting = env.get("GOPROXY", "")
        first = re.split(r"[,|]", setting)[0].strip() if setting else ""
        url = first.rstrip("/") if first and first not in ("direct", "off") else None
        return cls(url, setting, env.get("GONOPROXY", ""))

    def get(self, module: str, suffix: str) -> bytes:
        import urllib.request  # only the dependency check asks the proxy; every task loads this module

        assert self.url is not None
        with urllib.request.urlopen(f"{self.url}/{escape_path(module)}/{suffix}", timeout=PROXY_TIMEOUT) as r:
            return r.read()

    def info(self, module: str, version: str) -> tuple[str, datetime]:
        data = json.loads(self.get(module, f"@v/{escape_path(version)}.info"))
        return data["Version"], _parse_time(data["Time"])

    def newest(self, module: str) -> tuple[str, datetime]:
        """The newest release (highest semantic version in @v/list; @latest when it lists none)."""
        listed = self.get(module, "@v/list").decode().split()
        releases = sorted((v for v in listed if release_key(v)), key=lambda v: release_key(v) or (0, 0, 0))
        if releases:
            return self.info(module, releases[-1])
        data = json.loads(self.get(module, "@latest"))
        return data["Version"], _parse_time(data["Time"])


def _why_unknown(exc: BaseException, proxy: Proxy) -> str:
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return f"the module proxy has no version information for it (HTTP {exc.code})"
    if isinstance(exc, urllib.error.URLError):
        return f"the module proxy {proxy.url} could not be reached ({exc.reason})"
    if isinstance(exc, (KeyError, ValueError)):
        return f"the module proxy {proxy.url} gave an answer that is not version information ({exc})"
    return f"the module proxy {proxy.url} could not be asked ({exc})"


def _dependency(proxy: Proxy, module: str, required: str, months: int) -> Item:
    base = {"module": module, "required": required}
    if proxy.url is None:
        return Item("dependency", module, None,
                    f"unknown: GOPROXY={proxy.setting or '(empty)'} names no module proxy to ask", base)
    if proxy.noproxy and match_patterns(proxy.noproxy, module):
        return Item("dependency", module, None, "unknown: it matches GONOPROXY/GOPRIVATE, so no proxy is asked",
                    base)
    try:
        newest, newest_time = proxy.newest(module)
        _, required_time = proxy.info(module, required)
    except (OSError, ValueError, KeyError) as exc:
        return Item("dependency", module, None, f"unknown: {_why_unknown(exc, proxy)}", base)
    facts = {**base, "newest": newest, "required_time": required_time.isoformat().replace("+00:00", "Z"),
             "newest_time": newest_time.isoformat().replace("+00:00", "Z")}
    old = add_months(required_time, months) < newest_time
    if old:
        days = (newest_time - required_time).days
        detail = f"{required} ({required_time:%Y-%m-%d}) is {days} days older than {newest} ({newest_time:%Y-%m-%d})"
    elif newest == required:
        detail = f"{required} is the newest release"
    else:
        detail = f"{required} ({required_time:%Y-%m-%d}); newest {newest} ({newest_time:%Y-%m-%d}) is recent"
    return Item("dependency", module, POINTS["dependency"] if old else 0, detail, facts)


def direct_requirements(root: Path) -> list[tuple[str, str, str | None]]:
    """(module, version, local replacement or None) for every requirement of go.mod not marked indirect."""
    result = _go(root, "mod", "edit", "-json", timeout=60)
    if result.returncode != 0:
        raise ToolError(f"`go mod edit -json` failed in {root}: {result.stderr.strip()}")
    mod = json.loads(result.stdout)
    local = {r["Old"]["Path"]: r["New"]["Path"] for r in mod.get("Replace") or [] if not r["New"].get("Version")}
    return [(r["Path"], r["Version"], local.get(r["Path"])) for r in mod.get("Require") or []
            if not r.get("Indirect")]


def dependencies(root: Path, months: int, proxy: Proxy | None = None) -> list[Item]:
    reqs = direct_requirements(root)
    if not reqs:
        return []
    proxy = proxy or Proxy.from_go_env(root)
    items: list[Item] = []
    todo = []
    for module, version, replacement in reqs:
        if replacement is not None:
            items.append(Item("dependency", module, 0, f"replaced by {replacement}: not compared",
                              {"module": module, "required": version}))
        else:
            todo.append((module, version))
    with ThreadPoolExecutor(max_workers=min(8, len(todo) or 1)) as pool:
        items += pool.map(lambda mv: _dependency(proxy, mv[0], mv[1], months), todo)
    return sorted(items, key=lambda i: i.where)


# --- the whole card ------------------------------------------------------------------------------------------


def scorecard(project: Project, *, proxy: Proxy | None = None) -> Scorecard:
    root = project.root
    settings = Settings.of(project)
    files = repository_files(root, skip_top=[project.build.out_dir])
    items = markers(root, files)
    items += coverage(root, settings.min_coverage, settings.test_timeout)
    items += dependencies(root, settings.max_dependency_age_months, proxy)
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Scorecard(project.project.name, now, settings, items)


def last_result_path(project: Project) -> Path:
    return project.root / ".build" / "debt.json"

