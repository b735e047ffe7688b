"""Read a Go repository for what `invoke init --adopt` writes: which main is the service, what it needs to run.

Every fact comes from the code (``go list`` and the sources of the packages the
service is built from) or the repository's files, and carries where it was
seen, so adopt can say what it chose and why, and the user can check it. What
cannot be seen (a port read from an environment variable with no default, a
health route built at run time) is reported as unknown, with the default that
was written instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from .. import gotool
from ..build.inputs import decode_json_stream
from ..errors import SelectionError

GIN = "github.com/gin-gonic/gin"
# Folders whose mains are developer tools, never the shipped service.
TOOL_DIRS = frozenset({"tools", "tool", "gen", "generator", "generators", "codegen", "scripts", "hack", "examples",
                       "example", "internal/tools", "cmd/tools", "mock", "mocks", "migrations"})
# Names too generic to name a service after (a monorepo's server/ folder).
GENERIC_NAMES = frozenset({"server", "app", "api", "backend", "service", "src", "go", "golang", "cmd", "main",
                           "web", "http", "srv"})
# Health-like GET routes, best first.
HEALTH_WORDS = ("healthz", "health", "livez", "live", "readyz", "ready", "ping", "status")
# Pure-Go drivers that replace a cgo one, for the message when cgo is not wanted.
PURE_GO = {"github.com/mattn/go-sqlite3": "modernc.org/sqlite (or github.com/glebarez/sqlite for gorm)"}

_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"|`([^`]*)`')
_LISTEN = re.compile(r'\b(?:Run|RunTLS|ListenAndServe|ListenAndServeTLS|Listen)\(\s*(?:"tcp"\s*,\s*)?"([^"]*)"')
_RUN_NO_ADDR = re.compile(r"\.Run\(\s*\)")
_ADDR_FIELD = re.compile(r'\bAddr\s*:\s*"([^"]*)"')
_PORT_IN_ADDR = re.compile(r"^(?:[\w.\[\]:-]*):(\d{2,5})$")
_ROUTE = re.compile(r"\b(\w+)\.(GET|Any|HEAD|Handle|HandleFunc)\(\s*\"([^\"]*)\"")
_GROUP = re.compile(r"\b(\w+)\s*:?=\s*(\w+)\.Group\(\s*\"([^\"]*)\"")
_MKDIR = re.compile(r'\bos\.(?:MkdirAll|Mkdir)\(\s*"([^"]+)"')
_CREATE = re.compile(r'\b(?:os\.Create|os\.OpenFile|Filename\s*:)\s*\(?\s*"([^"]+)"')
_LOAD_LOCATION = re.compile(r"\btime\.LoadLocation\(")
# A listener handed over by systemd: the protocol's variable, or the usual library for it.
_ACTIVATION = re.compile(r'"LISTEN_FDS"|go-systemd/(?:v\d+/)?activation"')
_CONFIG_PORT = re.compile(r"^\s*(?:port|http_port|listen_port)\s*[:=]\s*\"?(\d{2,5})\"?\s*$", re.M | re.I)
_CONFIG_ADDR = re.compile(r"^\s*(?:addr|address|listen)\s*[:=]\s*\"?[\w.]*:(\d{2,5})\"?\s*$", re.M | re.I)
_CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json", ".ini", ".conf")


class Role(StrEnum):
    SERVICE = "service"
    BINARY = "binary"   # another main that serves or runs, built for every platform
    TOOL = "tool"       # a generator or developer tool: built for this machine only, never shipped


@dataclass(frozen=True)
class Seen:
    """A fact and where it came from."""

    value: object
    where: str  # "main.go:14", "config.yaml:3", or a short reason


@dataclass
class Main:
    rel: str           # "cmd/api" or "."
    import_path: str
    name: str = ""     # binary name
    role: Role = Role.BINARY
    why: str = ""
    serves_http: bool = False


@dataclass
class Facts:
    module: str
    root: Path
    package_count: int
    mains: list[Main]
    service: Main | None
    cgo: list[str] = field(default_factory=list)          # non-std packages with cgo files the service needs
    port: Seen | None = None
    port_from_env: Seen | None = None
    health: Seen | None = None
    routes: list[Seen] = field(default_factory=list)
    url_paths: dict[str, str] = field(default_factory=dict)  # every "/..." string literal -> where first seen
    files: list[Seen] = field(default_factory=list)
    writable: list[Seen] = field(default_factory=list)
    tzdata: Seen | None = None
    socket_activation: Seen | None = None  # takes its listener from systemd (LISTEN_FDS)
    version_dirs: list[Path] = field(default_factory=list)  # packages named version, for the link-time stamp


def _go_list(root: Path, *args: str, cgo: bool = False) -> list[dict]:
    env = {**os.environ, "CGO_ENABLED": "1" if cgo else os.environ.get("CGO_ENABLED", "0")}
    proc = gotool.run(root, "list", "-e", *args, env=env, timeout=600, check=True,
                      hint="fix the module first (`go build ./...` must work), then adopt again")
    return decode_json_stream(proc.stdout)


def _is_tool_dir(rel: str) -> bool:
    parts = rel.split("/")
    joined = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(p in TOOL_DIRS for p in parts) or any(j in TOOL_DIRS for j in joined) or parts[-1].endswith("gen")


def service_name(module: str, rel: str = ".") -> str | None:
    """A name for the service: the module path's last element, or the one before it when that is generic."""
    elems = [e for e in module.split("/") if e and not re.fullmatch(r"v\d+", e)]
    for elem in reversed(elems[1:] if len(elems) > 1 else elems):
        name = re.sub(r"[^a-z0-9-]", "-", elem.lower()).strip("-")
        if name and name not in GENERIC_NAMES and re.fullmatch(r"[a-z][a-z0-9-]{0,62}", name):
            return name
    return None


def _binary_names(rels: list[str], fallback: str) -> list[str]:
    """One binary name per main package directory: its last element, longer where two would clash."""
    def name_of(rel: str, depth: int) -> str:
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if parts and parts[0] == "cmd" and len(parts) > 1:
            parts = parts[1:]
        if not parts:
            return fallback
        return "-".join(parts[-depth:])

    names = [name_of(r, 1) for r in rels]
    for depth in range(2, 8):
        clashes = {n for n in names if names.count(n) > 1}
        if not clashes:
            break
        names = [name_of(r, depth) if n in clashes else n for r, n in zip(rels, names, strict=True)]
    return [re.sub(r"[^A-Za-z0-9_.-]", "-", n).lstrip("-_.") or fallback for n in names]


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _sources(packages: list[dict], wanted: set[str]) -> list[tuple[Path, str]]:
    out = []
    for pkg in packages:
        if pkg.get("ImportPath") in wanted:
            for name in (pkg.get("GoFiles") or []) + (pkg.get("CgoFiles") or []):
                path = Path(pkg["Dir"]) / name
                out.append((path, path.read_text(errors="replace")))
    return out


def _route_paths(text: str) -> list[tuple[str, int]]:
    prefixes: dict[str, str] = {}
    for m in _GROUP.finditer(text):
        prefixes[m.group(1)] = prefixes.get(m.group(2), "") + m.group(3)
    out = []
    for m in _ROUTE.finditer(text):
        literal = m.group(3)
        if m.group(2) in ("Handle", "HandleFunc"):
            # net/http: "/path" (any method) or Go 1.22's "GET /path"; other methods are not health routes.
            literal = literal.removeprefix("GET ")
            if not literal.startswith("/"):
                continue
        if not literal.startswith("/"):
            continue  # not a route: gin and net/http paths begin with "/" (slog.Any("config", ...) is no route)
        path = (prefixes.get(m.group(1), "") + literal).replace("//", "/") or "/"
        if ":" not in path and "*" not in path:
            out.append((path, _line_of(text, m.start())))
    return out


def _pick_health(routes: list[Seen]) -> Seen | None:
    def rank(s: Seen) -> tuple[int, int]:
        last = str(s.value).rstrip("/").rsplit("/", 1)[-1].lower()
        for i, word in enumerate(HEALTH_WORDS):
            if last == word:
                return (0, i)
        for i, word in enumerate(HEALTH_WORDS):
            if word in str(s.value).lower():
                return (1, i)
        return (9, 0)

    ranked = sorted(routes, key=rank)
    return ranked[0] if ranked and rank(ranked[0])[0] < 9 else None


def _repo_path(root: Path, literal: str) -> str | None:
    """The repository path a string literal names, when it names one that exists (globs cut at the glob)."""
    text = literal.strip()
    if not text or len(text) > 200 or "\n" in text or text.startswith(("/", "http:", "https:")) or ".." in text:
        return None
    text = text.removeprefix("./")
    if any(c in text for c in "*?["):
        text = text[: min(text.find(c) for c in "*?[" if c in text)].rsplit("/", 1)[0]
    text = text.rstrip("/")
    if not text or text == "." or not re.fullmatch(r"[\w.@+-]+(?:/[\w.@+-]+)*", text):
        return None
    path = root / text
    if path.is_file() and path.suffix not in (".go", ".mod", ".sum"):
        return text
    if path.is_dir() and not any(path.glob("*.go")) and text.split("/")[0] not in ("bin", ".build", ".git"):
        return text
    return None


def detect(root: Path, service_main: str | None = None) -> Facts:
    """Everything adopt needs to know about the module at ``root``.

    ``service_main`` (a main package directory like ``./cmd/api``) names the service instead of
    guessing it, as build.yaml does once adopted.
    """
    root = root.resolve()
    if not (root / "go.mod").is_file():
        raise SelectionError(f"{root} has no go.mod; --dest must be the root of a Go module (the folder holding "
                             "go.mod, which may be a subfolder of a larger repository)")
    fields = "Name,ImportPath,Dir,GoFiles,CgoFiles,Imports,Deps,Standard,Module,Error"
    packages = [p for p in _go_list(root, f"-json={fields}", "./...") if p.get("Name")]
    module = next((p["Module"]["Path"] for p in packages if p.get("Module")), None)
    if module is None:
        raise SelectionError(f"`go list ./...` found no package of the module in {root}")
    fallback = service_name(module) or "app"
    mains = []
    by_path = {p["ImportPath"]: p for p in packages}
    for pkg in sorted(packages, key=lambda p: p["Dir"]):
        if pkg["Name"] != "main":
            continue
        rel = Path(pkg["Dir"]).resolve().relative_to(root).as_posix()
        deps = set(pkg.get("Deps") or [])
        http = GIN in deps or "net/http" in set(pkg.get("Imports") or [])
        mains.append(Main(rel, pkg["ImportPath"], serves_http=http))
    for m, name in zip(mains, _binary_names([m.rel for m in mains], fallback), strict=True):
        m.name = name
    facts = Facts(module, root, len(packages), mains, None,
                  version_dirs=sorted(Path(p["Dir"]) for p in packages if p["Name"] == "version"))
    if not mains:
        return facts
    # The service: a main that serves HTTP outside the tool folders, the shallowest first.
    candidates = [m for m in mains if m.serves_http and not _is_tool_dir(m.rel)]
    if service_main is not None:
        wanted = Path(service_main).as_posix().removeprefix("./") or "."
        candidates = [m for m in mains if m.rel == wanted]
    for m in mains:
        if _is_tool_dir(m.rel):
            m.role, m.why = Role.TOOL, "under a tools/generator folder: built for this machine only, never shipped"
        elif not m.serves_http:
            m.role, m.why = Role.TOOL, "serves no HTTP (imports neither gin nor net/http): a command-line tool"
    if candidates:
        def preference(m: Main) -> tuple[int, int, str]:
            depth = 0 if m.rel == "." else m.rel.count("/") + 1
            return (0 if GIN in set(by_path[m.import_path].get("Deps") or []) else 1, depth, m.rel)

        service = sorted(candidates, key=preference)[0]
        service.role = Role.SERVICE
        service.why = "serves HTTP" + (" with gin" if GIN in set(by_path[service.import_path].get("Deps") or [])
                                       else "") + "; the images and the deploy run it"
        for m in candidates:
            if m is not service:
                m.why = "serves HTTP too: built for every platform, not in the images (set service.binary to swap)"
        facts.service = service
        _read_service(facts, packages, by_path[service.import_path])
    return facts


# `port := os.Getenv("PORT")` then `if port == "" { port = "8300" }`, or `cmp.Or(os.Getenv("PORT"), "8300")`.
_ASSIGNED_GETENV = re.compile(r'\s*(\w+)\s*:?=\s*os\.Getenv\(\s*"\w+"\s*\)\s*$')
_OR_DEFAULT = re.compile(r'\s*,\s*":?(\d{2,5})"\s*\)')
# How far after the Getenv its default may be assigned: the few lines of an `if v == "" {...}`.
_DEFAULT_WITHIN = 200


def _env_default(text: str, env: re.Match[str]) -> re.Match[str] | None:
    """The literal port the code falls back to when the variable ``env`` reads is unset, if it has one."""
    if text[: env.start()].endswith("cmp.Or(os."):
        return _OR_DEFAULT.match(text, env.end())
    line_start = text.rfind("\n", 0, env.start()) + 1
    line_end = text.find("\n", env.end())
    assigned = _ASSIGNED_GETENV.fullmatch(text[line_start: line_end if line_end >= 0 else len(text)])
    if not assigned:
        return None
    var = re.escape(assigned.group(1))
    rule = re.compile(rf'if\s+{var}\s*==\s*""\s*\{{\s*{var}\s*=\s*":?(\d{{2,5}})"')
    return rule.search(text, env.end(), env.end() + _DEFAULT_WITHIN)


def _read_service(facts: Facts, packages: list[dict], main_pkg: dict) -> None:
    root, module = facts.root, facts.module
    own = {p for p in [main_pkg["ImportPath"], *(main_pkg.get("Deps") or [])]
           if p == module or p.startswith(module + "/")}
    sources = _sources(packages, own)
    # cgo: what the service links that needs a C compiler (seen with cgo on, as a cgo build would).
    deps = _go_list(root, "-deps", "-json=ImportPath,CgoFiles,Standard", main_pkg["ImportPath"], cgo=True)
    facts.cgo = sorted(p["ImportPath"] for p in deps if p.get("CgoFiles") and not p.get("Standard"))
    port_default: Seen | None = None
    for path, text in sources:
        rel = path.resolve().relative_to(root).as_posix()
        for m in _LISTEN.finditer(text):
            port = _PORT_IN_ADDR.match(m.group(1))
            if port and facts.port is None:
                facts.port = Seen(int(port.group(1)), f"{rel}:{_line_of(text, m.start())}")
        for m in _ADDR_FIELD.finditer(text):
            port = _PORT_IN_ADDR.match(m.group(1))
            if port and facts.port is None:
                facts.port = Seen(int(port.group(1)), f"{rel}:{_line_of(text, m.start())}")
        if facts.port_from_env is None:
            env = re.search(r'Getenv\(\s*"(PORT|HTTP_PORT|APP_PORT)"\s*\)', text)
            if env:
                facts.port_from_env = Seen(env.group(1), f"{rel}:{_line_of(text, env.start())}")
                default = _env_default(text, env)
                if default:
                    port_default = Seen(int(default.group(1)), f"{rel}:{_line_of(text, default.start())}, the "
                                                               f"default when ${env.group(1)} is unset")
            elif GIN in text and (run := _RUN_NO_ADDR.search(text)):
                # gin's Run() with no address listens on $PORT, else :8080.
                facts.port_from_env = Seen("PORT", f"{rel}:{_line_of(text, run.start())} (gin's Run() reads PORT)")
        for route, line in _route_paths(text):
            facts.routes.append(Seen(route, f"{rel}:{line}"))
        for m in _STRING.finditer(text):
            literal = m.group(1) if m.group(1) is not None else m.group(2)
            if literal.startswith("/") and literal not in facts.url_paths:
                facts.url_paths[literal] = f"{rel}:{_line_of(text, m.start())}"
            found = _repo_path(root, literal)
            if found and all(s.value != found for s in facts.files):
                facts.files.append(Seen(found, f"{rel}:{_line_of(text, m.start())}"))
        for rx in (_MKDIR, _CREATE):
            for m in rx.finditer(text):
                target = m.group(1).removeprefix("./")
                folder = target if rx is _MKDIR else (target.rsplit("/", 1)[0] if "/" in target else "")
                if folder and not folder.startswith("/") and ".." not in folder and \
                        all(s.value != folder for s in facts.writable):
                    facts.writable.append(Seen(folder.rstrip("/"), f"{rel}:{_line_of(text, m.start())}"))
        if facts.socket_activation is None and (act := _ACTIVATION.search(text)):
            facts.socket_activation = Seen(True, f"{rel}:{_line_of(text, act.start())}")
        if facts.tzdata is None and '"time/tzdata"' not in text and (zone := _LOAD_LOCATION.search(text)):
            facts.tzdata = Seen(True, f"{rel}:{_line_of(text, zone.start())} calls time.LoadLocation")
    # Directories it writes are not files it reads, even when they exist in the repository.
    facts.files = [s for s in facts.files if all(not (str(s.value) + "/").startswith(str(w.value) + "/")
                                                for w in facts.writable)]
    facts.health = _pick_health(facts.routes)
    # A literal listen address wins; then the code's own default for its port variable; then a config file.
    if facts.port is None:
        facts.port = port_default
    if facts.port is None:
        for s in facts.files:
            path = root / str(s.value)
            if path.is_file() and path.suffix in _CONFIG_SUFFIXES:
                text = path.read_text(errors="replace")
                m = _CONFIG_PORT.search(text) or _CONFIG_ADDR.search(text)
                if m:
                    facts.port = Seen(int(m.group(1)), f"{s.value}:{_line_of(text, m.start())}")
                    break
