"""Direct dependencies of go.mod far behind their newest release (+2), as the module proxy dates them."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import gotool
from .item import POINTS, Item

PROXY_TIMEOUT = 10.0


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
    def from_go_env(cls, root: Path, env: dict[str, str] | None = None) -> Proxy:
        result = gotool.run(root, "env", "-json", "GOPROXY", "GONOPROXY", timeout=60, env=env, check=True)
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


def direct_requirements(root: Path, env: dict[str, str] | None = None) -> list[tuple[str, str, str | None]]:
    """(module, version, local replacement or None) for every requirement of go.mod not marked indirect."""
    result = gotool.run(root, "mod", "edit", "-json", timeout=60, env=env, check=True,
                        hint=f"{root / 'go.mod'} must parse")
    mod = json.loads(result.stdout)
    local = {r["Old"]["Path"]: r["New"]["Path"] for r in mod.get("Replace") or [] if not r["New"].get("Version")}
    return [(r["Path"], r["Version"], local.get(r["Path"])) for r in mod.get("Require") or []
            if not r.get("Indirect")]


def dependencies(root: Path, months: int, proxy: Proxy | None = None,
                 env: dict[str, str] | None = None) -> list[Item]:
    reqs = direct_requirements(root, env)
    if not reqs:
        return []
    proxy = proxy or Proxy.from_go_env(root, env)
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
