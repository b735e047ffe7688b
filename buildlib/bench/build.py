"""``invoke bench``: serial versus parallel builds of the target matrix, measured in one run.

Cases, each cold (Go build cache emptied), warm (cache kept, outputs removed) and
after an edit (outputs kept, one .go file of the first binary's main package changed):

  (a) a serial loop, one ``go build`` per target
  (b) one ``go build`` per platform (Go's own parallelism across the binaries)
  (c) ``invoke build --jobs 1``   (d) ``invoke build --jobs 8``   (e) ``invoke build --jobs auto``
  (t) Task, a task per platform   (g) ``goreleaser build``: the peers, when they are installed
      (buildlib/bench/peers.py gives each a configuration equivalent to build.yaml's)

and the no-op case: ``invoke build`` with everything up to date against Go's own
no-op (``go build`` per platform with the binaries in place, which Go then
does not relink), Task's, and ``invoke --version``, run after run. Everything
runs in a copy of the tree with its own GOCACHE, so the user's cache and bin/
are never touched; the module cache is shared (read only: modules are
downloaded once, not compiled). The same flags and stamp are used by every
case, so all of them produce the same binaries; a peer's time is reported only
once its binaries are checked to be the kit's, byte for byte. ``platforms``
replaces the matrix's platforms in the copy (the 9-platform case).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import config, console, layout, tools
from ..atomic import write_json
from ..build import manifest
from ..build.builder import Options, prepare
from ..build.machine import capacity
from ..build.targets import matrix
from ..tables import table
from . import peers

# Never copied into the bench tree: build outputs, caches, VCS data, virtualenvs.
_SKIP = {".git", ".build", ".nox", ".venv", "bin", "dist", "node_modules", "__pycache__", ".pytest_cache",
         ".ruff_cache", ".mypy_cache"}
NOOP_REPEAT = 9
# The no-op rows: the kit's no-op, Go's, and invoke's start-up (what any task costs before it runs).
NOOP_CASES = {"e": "invoke build (all up to date)", "b": "go build per platform (Go's no-op)",
              "t": "task, a task per platform (all up to date)", "v": "invoke --version (start-up alone)"}
# Warm builds take seconds, so one run is at the mercy of whatever else the machine does: the median of a few.
WARM_REPEAT = 3


@dataclass
class Measure:
    case: str
    mode: str        # cold | warm | edit | fresh | noop
    wall: float
    cpu: float       # user+sys seconds of all child processes
    load: float = 0.0  # 1-minute load average when it ended: other work on the machine skews the figures

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0


@dataclass
class Report:
    machine: dict[str, Any]
    measures: list[Measure] = field(default_factory=list)
    not_measured: list[str] = field(default_factory=list)  # peers that are not installed, and why

    def get(self, case: str, mode: str) -> Measure | None:
        return next((m for m in self.measures if m.case == case and m.mode == mode), None)


def copy_tree(src: Path, dest: Path) -> None:
    """The files of the project (not its outputs or caches) copied to ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if n in _SKIP], symlinks=True)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(case: str, mode: str, run: Callable[[], None]) -> Measure:
    cpu0, t0 = _cpu(), time.monotonic()
    run()
    return Measure(case=case, mode=mode, wall=time.monotonic() - t0, cpu=_cpu() - cpu0, load=os.getloadavg()[0])


def user_environ() -> dict[str, str]:
    """This process's environment for the timed commands, with Python's bytecode cache on, as a user's
    shell has it: with PYTHONDONTWRITEBYTECODE set, every `invoke` run would compile the kit's modules
    from source again, and the bench would time that instead."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class Bench:
    """The cases, run in ``work`` (a copy of the project) with the Go cache in ``gocache``."""

    CASES = {
        "a": "(a) serial loop: go build per target",
        "b": "(b) go build per platform",
        "c": "(c) invoke build --jobs 1",
        "d": "(d) invoke build --jobs 8",
        "e": "(e) invoke build --jobs auto",
        "t": "(t) task, a task per platform",
        "g": "(g) goreleaser build",
    }
    PEERS: dict[str, type[peers.Peer]] = {"t": peers.TaskPeer, "g": peers.GoReleaserPeer}

    def __init__(self, project: config.Project, work: Path, echo: Callable[[str], None],
                 platforms: list[str] | None = None) -> None:
        self.source = project
        self.work = work
        self.gocache = work.parent / "gocache"
        self.echo = echo
        copy_tree(project.root, work)
        if platforms:
            _set_platforms(work / config.CONFIG_NAME, platforms)
        self.project = config.load(work / config.CONFIG_NAME)
        self.env = {**user_environ(), "GOCACHE": str(self.gocache)}
        self.recipe = prepare(self.project, Options(), self.env)[0]
        self.targets = matrix(self.project)
        self.platforms = sorted({t.platform for t in self.targets})
        self.buildlib_root = str(Path(__file__).resolve().parents[2])
        self.peers: dict[str, peers.Peer] = {}
        self.expected: dict[str, str] = {}  # the kit's sha256 of each target, which every peer must match
        self.edited: dict[Path, bytes] = {}

    # -- what is measured ---------------------------------------------------
    def _go_build(self, platform: str, mains: list[str], out: str) -> None:
        env = {**self.recipe.env(platform), "GOCACHE": str(self.gocache)}
        argv = [self.recipe.go.path, "build", *self.recipe.flags(), "-o", out, *mains]
        tools.run(argv, cwd=self.work, env=env, timeout=None, hint="the bench stopped")

    def serial_loop(self) -> None:
        for t in self.targets:
            self._go_build(t.platform, [t.main], str(self.work / t.out_rel(self.project.build.out_dir)))

    def per_platform(self, out_dir: str | None = None) -> None:
        for platform in self.platforms:
            mains = sorted({t.main for t in self.targets if t.platform == platform})
            goos, _, goarch = platform.partition("/")
            folder = self.work / (out_dir or self.project.build.out_dir) / f"{goos}_{goarch}"
            folder.mkdir(parents=True, exist_ok=True)
            self._go_build(platform, mains, str(folder) + os.sep)

    def _invoke(self, *args: str) -> None:
        """``invoke ARGS`` in the bench tree, with the kit of this checkout; a failure stops the bench."""
        env = {**self.env, "PYTHONPATH": os.pathsep.join(
            p for p in (self.buildlib_root, os.environ.get("PYTHONPATH", "")) if p), "CI": "1"}
        tools.run([sys.executable, "-m", "invoke", *args], cwd=self.work, env=env, timeout=None, merge_stderr=True,
                  hint="the bench stopped")

    def invoke_build(self, jobs: str) -> Callable[[], None]:
        return lambda: self._invoke("build", "--jobs", jobs)

    def invoke_version(self) -> None:
        """Python and invoke starting, and nothing else: the floor of any ``invoke`` command."""
        self._invoke("--version")

    def set_up_peers(self, cases: list[str], report: Report) -> None:
        """The installed peers of ``cases`` (and Task, for the no-op), each given its configuration;
        the missing ones listed as not measured.

        An untimed ``invoke build`` first: its manifest holds the bytes every peer must
        match, and its state the inputs Task's sources are made of.
        """
        wanted = {case for case in cases if case in self.PEERS} | {"t"}
        found = {case: (kind, peers.find(kind.tool, self.env)) for case, kind in self.PEERS.items()
                 if case in wanted}
        for kind, binary in found.values():
            if binary is None:
                report.not_measured.append(f"{kind.tool.name}: not installed (go install {kind.tool.spec}, "
                                           "or put it on PATH)")
        if not any(binary for _, binary in found.values()):
            return
        self.clean_outputs()
        self.invoke_build("auto")()
        kit = manifest.require(self.project.out_path()).targets
        self.expected = {t: e.sha256 for t, e in kit.items()}
        for case, (kind, binary) in found.items():
            if binary is None:
                continue
            out = f"{self.project.build.out_dir}-{kind.tool.name}"
            extra = {"parallelism": capacity().cpus} if kind is peers.GoReleaserPeer else {}
            peer = kind(binary, self.work, self.recipe, self.targets, out, self.env, **extra)
            peer.write()
            self.peers[case] = peer

    def runner(self, case: str) -> Callable[[], None]:
        if case in self.PEERS:
            return self.peers[case].runner()
        return {"a": self.serial_loop, "b": self.per_platform, "c": self.invoke_build("1"),
                "d": self.invoke_build("8"), "e": self.invoke_build("auto")}[case]

    # -- set-up between cases -----------------------------------------------
    def reset(self, case: str, state_too: bool = True) -> None:
        """The outputs of ``case`` removed (and its state, with ``state_too``), the Go cache kept."""
        if case in self.PEERS:
            self.peers[case].clean(state_too)
        else:
            self.clean_outputs(state_too)

    def clean_outputs(self, state_too: bool = True) -> None:
        shutil.rmtree(self.work / self.project.build.out_dir, ignore_errors=True)
        for t in self.targets:
            (self.work / t.out_rel(self.project.build.out_dir)).parent.mkdir(parents=True, exist_ok=True)
        if state_too:
            (self.work / layout.STATE).unlink(missing_ok=True)

    def edit(self) -> None:
        """A change to one .go file of the first binary's main package: new content, as an edit makes."""
        main = self.work / self.targets[0].main
        first = sorted(f for f in main.glob("*.go") if not f.name.endswith("_test.go"))[0]
        self.edited.setdefault(first, first.read_bytes())
        with open(first, "a", encoding="utf-8") as fh:
            fh.write(f"\n// bench edit {time.time_ns()}\n")

    def undo_edits(self) -> None:
        """The edited files as they were: Go's build ID follows the source, and the peers' binaries are
        checked against the kit's of the original source."""
        for path, text in self.edited.items():
            path.write_bytes(text)
        self.edited.clear()

    def empty_cache(self) -> None:
        shutil.rmtree(self.gocache, ignore_errors=True)
        self.gocache.mkdir(parents=True)

    def run(self, cases: list[str], cold: bool, report: Report) -> None:
        self.set_up_peers(cases, report)
        for case in cases:
            if case in self.PEERS and case not in self.peers:
                continue  # not installed: listed as not measured
            if cold:
                self.empty_cache()
                self.reset(case)
                report.measures.append(self.timed(case, "cold"))
            else:
                self.reset(case)
                self.runner(case)()  # untimed: warms the Go cache (and the build state)
            # Warm: Go's cache and the tool's state as the last run left them, its outputs removed.
            report.measures.append(self.repeated(case, "warm", lambda case=case: self.reset(case, state_too=False)))
            self.runner(case)()  # untimed: its outputs back, so that an edit finds them
            report.measures.append(self.repeated(case, "edit", self.edit))
            self.undo_edits()
        if "e" in cases:
            # Warm Go cache but a fresh checkout: no .build/ state, so go list and every check run.
            report.measures.append(self.repeated("e", "fresh", self.clean_outputs))
        self.noop(report)

    def repeated(self, case: str, mode: str, reset: Callable[[], None]) -> Measure:
        """The median run of WARM_REPEAT (by wall time), each after ``reset``."""
        runs = []
        for _ in range(WARM_REPEAT):
            reset()
            runs.append(self.timed(case, mode))
        return sorted(runs, key=lambda m: m.wall)[len(runs) // 2]

    def timed(self, case: str, mode: str) -> Measure:
        self.echo(f"bench: {self.CASES[case]}, {mode} ...")
        m = measure(case, mode, self.runner(case))
        if case in self.peers and mode != "edit":
            self.peers[case].check_identical(self.expected)
        self.echo(f"bench: {self.CASES[case]}, {mode}: {m.wall:.2f}s wall, {m.cpu:.1f}s CPU, load {m.load:.1f}")
        return m

    def noop(self, report: Report) -> None:
        """Everything up to date: invoke build against Go's own no-op and invoke's own start-up.

        The three alternate, run after run, so that a change in the machine's load meets all of them.
        """
        self.clean_outputs()
        self.invoke_build("auto")()
        # Go's no-op rewrites the binaries it finds up to date (their mtime changes), which would make the
        # kit's next run a check of changed outputs instead of a no-op: each tool gets outputs of its own.
        go_out = f"{self.project.build.out_dir}-go"
        self.per_platform(go_out)
        runners = {"e": self.invoke_build("auto"), "b": lambda: self.per_platform(go_out), "v": self.invoke_version}
        task = self.peers.get("t")
        if task is not None:
            runners["t"] = task.runner()
            runners["t"]()  # untimed: its outputs and checksums, as the kit's are
            task.check_identical(self.expected)
        runs: dict[str, list[Measure]] = {case: [] for case in runners}
        for _ in range(NOOP_REPEAT):
            for case, run in runners.items():
                runs[case].append(measure(case, "noop", run))
        for case, label in NOOP_CASES.items():
            if case not in runs:
                continue
            best = min(runs[case], key=lambda m: m.wall)
            best.wall = statistics.median(m.wall for m in runs[case])
            report.measures.append(best)
            self.echo(f"bench: no-op {label}: median {best.wall:.3f}s of {NOOP_REPEAT}")


def verdicts(report: Report) -> list[tuple[str, bool | None, str]]:
    """The issue's targets, each with whether this run met it."""
    out: list[tuple[str, bool | None, str]] = []

    def get(case: str, mode: str) -> float | None:
        m = report.get(case, mode)
        return m.wall if m else None

    noop_inv, noop_go = get("e", "noop"), get("b", "noop")
    if noop_inv is not None and noop_go is not None:
        out.append(("no-op invoke build under 0.5 s", noop_inv < 0.5, f"{noop_inv:.3f}s"))
        out.append(("no-op faster than Go's own no-op", noop_inv < noop_go, f"{noop_inv:.3f}s vs {noop_go:.3f}s"))
    noop_task = get("t", "noop")
    if noop_inv is not None and noop_task is not None:
        out.append(("no-op invoke build no slower than Task's", noop_inv <= noop_task,
                    f"{noop_inv:.3f}s vs {noop_task:.3f}s"))
    noop_start = get("v", "noop")
    if noop_inv is not None and noop_start:
        out.append(("no-op invoke build within 1.5x of invoke --version", noop_inv <= 1.5 * noop_start,
                    f"{noop_inv / noop_start:.2f}x ({noop_inv:.3f}s vs {noop_start:.3f}s)"))
    serial, e = report.get("a", "cold"), get("e", "cold")
    if serial and e:
        out.append(("cold --jobs auto <= 0.8 x serial loop (a)", e <= 0.8 * serial.wall, f"{e / serial.wall:.2f}x"))
        # The CPU floor: the serial loop's CPU-seconds spread over every core the kit may use.
        floor = serial.cpu / report.machine["cpus"]
        out.append(("cold --jobs auto within 1.05x of the CPU floor", e <= 1.05 * floor,
                    f"{e / floor:.2f}x ({e:.1f}s vs {serial.cpu:.1f} CPU-s / {report.machine['cpus']})"))
    for mode in ("cold", "warm"):
        kit = get("e", mode)
        others = {case: get(case, mode) for case in ("a", "b", "t", "g")}
        others = {case: wall for case, wall in others.items() if wall}
        if kit and others:
            best = min(others, key=lambda c: others[c])
            out.append((f"{mode} --jobs auto no slower than the best of ({'), ('.join(others)})",
                        kit <= others[best], f"{kit / others[best]:.2f}x of ({best})"))
    edit_loop = min((w for w in (get("a", "edit"), get("b", "edit")) if w), default=None)
    edit_kit = get("e", "edit")
    if edit_loop and edit_kit:
        out.append(("one file edited: within 1.05x of the go loop", edit_kit <= 1.05 * edit_loop,
                    f"{edit_kit / edit_loop:.2f}x ({edit_kit:.2f}s vs {edit_loop:.2f}s)"))
    loop = min((w for w in (get("a", "warm"), get("b", "warm")) if w), default=None)
    fresh = get("e", "fresh")
    if loop and fresh:
        out.append(("warm, no .build/ state, within 1.1x of the go loop", fresh <= 1.1 * loop,
                    f"{fresh / loop:.2f}x ({fresh:.2f}s vs {loop:.2f}s)"))
    return out


def render(report: Report) -> str:
    rows = []
    for case, label in Bench.CASES.items():
        cells = [label]
        for mode in ("cold", "warm", "edit"):
            m = report.get(case, mode)
            cells += [f"{m.wall:.2f}s" if mode == "edit" else f"{m.wall:.1f}s",
                      f"{m.cpu:.1f}s ({m.cpu_share * 100 / report.machine['cpus']:.0f}%)"] if m else ["-", "-"]
        if any(cell != "-" for cell in cells[1:]):
            rows.append(cells)
    fresh = report.get("e", "fresh")
    if fresh:
        rows.append(["(e) --jobs auto, warm GOCACHE, no .build/ state", "-", "-", f"{fresh.wall:.1f}s",
                     f"{fresh.cpu:.1f}s ({fresh.cpu_share * 100 / report.machine['cpus']:.0f}%)", "-", "-"])
    text = [table(["case", "cold wall", "cold CPU (use)", f"warm wall (median of {WARM_REPEAT})", "warm CPU (use)",
                   f"one file edited (median of {WARM_REPEAT})", "edit CPU"], rows, right={1, 2, 3, 4, 5, 6})]
    noop = [(label, report.get(case, "noop")) for case, label in NOOP_CASES.items()]
    if any(m for _, m in noop):
        text.append("")
        text.append(table(["no-op", f"wall (median of {NOOP_REPEAT})", "CPU"],
                          [[label, f"{m.wall:.3f}s", f"{m.cpu:.2f}s"] for label, m in noop if m], right={1, 2}))
    if report.not_measured:
        text.append("")
        text += [f"not measured: {why}" for why in report.not_measured]
    loads = [m.load for m in report.measures if m.load]
    if loads:
        text.append("")
        text.append(f"machine load (1-minute average) at the end of each case: {min(loads):.1f} to {max(loads):.1f} "
                    f"on {report.machine['cpus']} CPUs")
    checks = verdicts(report)
    if checks:
        text.append("")
        text.append(table(["target", "met", "measured"],
                          [[name, {True: "yes", False: "NO", None: "-"}[ok], fig] for name, ok, fig in checks]))
    return "\n".join(text)


def _set_platforms(build_yaml: Path, platforms: list[str]) -> None:
    """The copy's build.yaml with ``platforms`` for every binary (its comments are not kept: it is a copy)."""
    raw = yaml.safe_load(build_yaml.read_text())
    raw["platforms"] = list(platforms)
    for binary in (raw.get("binaries") or {}).values():
        if isinstance(binary, dict):
            binary.pop("platforms", None)
    build_yaml.write_text(yaml.safe_dump(raw, sort_keys=False))


def run(project: config.Project, cases: list[str], cold: bool, out: Path,
        echo: Callable[[str], None], platforms: list[str] | None = None) -> Report:
    cap = capacity()
    # Outside the repository: git must not see the copy as part of it (the stamp would follow the
    # real tree's state), and bin/ and the Go cache of the user stay untouched.
    bench_dir = Path(tempfile.mkdtemp(prefix="buildlib-bench-"))
    bench = Bench(project, bench_dir / "tree", echo, platforms)
    report = Report(machine={"cpus": cap.cpus, "capacity": cap.why, "go": bench.recipe.go.version,
                             "targets": [t.id for t in bench.targets], "python": sys.version.split()[0]})
    try:
        bench.run(cases, cold, report)
    finally:
        data = {"machine": report.machine, "measures": [{**asdict(m), "cpu_share": m.cpu_share}
                                                         for m in report.measures],
                "verdicts": [{"target": n, "met": ok, "measured": f} for n, ok, f in verdicts(report)],
                "not_measured": report.not_measured}
        write_json(out, data)
        shutil.rmtree(bench_dir, ignore_errors=True)
    return report




# -- a large generated project ---------------------------------------------------------------------
# The template is small: its cold build is the standard library and gin. A service with hundreds of
# packages and several mains of different sizes is where a scheduler can leave cores idle (the last
# big binary building alone), so the comparison with plain `go build` is also made on one of those.

def _package_source(index: int, imports: list[int], funcs: int) -> str:
    """One generated package: types, generic helpers and enough code to keep the compiler busy."""
    lines = [f"// Package p{index} is generated for the build benchmark.", f"package p{index}", "",
             'import "fmt"', 'import "sort"', 'import "strings"']
    lines += [f'import "example.com/big/internal/p{dep}"' for dep in imports]
    lines += ["", "type Number interface{ ~int | ~int64 | ~float64 }", "",
              "func Sum[T Number](xs []T) T {", "\tvar s T", "\tfor _, x := range xs {", "\t\ts += x", "\t}",
              "\treturn s", "}", ""]
    for f in range(funcs):
        lines += [
            f"type Rec{f} struct {{", "\tName string", "\tVals []int64", "\tTags map[string]float64", "}", "",
            f"func (r *Rec{f}) Score() float64 {{",
            "\tkeys := make([]string, 0, len(r.Tags))", "\tfor k := range r.Tags {", "\t\tkeys = append(keys, k)",
            "\t}", "\tsort.Strings(keys)", "\tvar s float64",
            "\tfor i, k := range keys {", f"\t\ts += r.Tags[k] * float64(i+{f}) / float64(len(k)+1)", "\t}",
            "\treturn s + float64(Sum(r.Vals))", "}", "",
            f"func Make{f}(n int) *Rec{f} {{",
            f"\tr := &Rec{f}{{Name: strings.Repeat(\"x\", n%7), Tags: map[string]float64{{}}}}",
            "\tfor i := 0; i < n; i++ {", "\t\tr.Vals = append(r.Vals, int64(i*i))",
            f"\t\tr.Tags[fmt.Sprintf(\"t%d-{f}\", i)] = float64(i) * 1.5", "\t}",
            "\tswitch n % 5 {", "\tcase 0:", "\t\tr.Name += \"a\"", "\tcase 1:", "\t\tr.Name += \"b\"",
            "\tcase 2:", "\t\tr.Name += \"c\"", "\tdefault:", "\t\tr.Name = strings.ToUpper(r.Name)", "\t}",
            "\treturn r", "}", ""]
    body = " + ".join([f"p{dep}.Entry(n)" for dep in imports] or ["0"])
    lines += ["// Entry is what the packages above this one call.", "func Entry(n int) float64 {",
              f"\treturn Make{funcs - 1}(n).Score() + Make0(n+1).Score() + {body}", "}", ""]
    return "\n".join(lines)


def generate_project(dest: Path, packages: int = 240, funcs: int = 24, mains: tuple[int, ...] = (100, 60, 20, 4),
                     tools: int = 2) -> Path:
    """Write a Go module of ``packages`` generated packages and mains of different sizes into ``dest``.

    Package i imports up to three packages below it, so the graph has depth as real services do. Main k
    imports the top ``mains[k]`` percent of the packages (one large service, smaller ones). ``tools``
    mains are called ``gen`` in two directories (``tools/a/gen``, ``tools/b/gen``): the same output name,
    as code generators in real repositories often have, which one ``go build -o DIR/`` cannot take.
    Standard library only, so nothing is downloaded.
    """
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "internal" / "version").mkdir(parents=True)
    (dest / "go.mod").write_text("module example.com/big\n\ngo 1.22\n")
    (dest / "go.sum").write_text("")
    (dest / "internal" / "version" / "version.go").write_text(
        "// Package version is stamped at link time.\npackage version\n\n"
        'var (\n\tVersion = "dev"\n\tCommit  = "unknown"\n\tDate    = "unknown"\n)\n')
    for i in range(packages):
        deps = sorted({j for j in (i - 1, i // 2, (i * 7) // 10) if 0 <= j < i})
        pkg = dest / "internal" / f"p{i}"
        pkg.mkdir()
        (pkg / f"p{i}.go").write_text(_package_source(i, deps, funcs))
    binaries = {}
    names = [f"svc{k}" for k in range(len(mains))]
    dirs = [f"cmd/{n}" for n in names] + [f"tools/{chr(ord('a') + t)}/gen" for t in range(tools)]
    shares = list(mains) + [3] * tools
    for name_dir, share in zip(dirs, shares, strict=True):
        top = max(1, packages * share // 100)
        used = list(range(packages - top, packages))[-12:]  # the top ones pull in the rest below them
        d = dest / name_dir
        d.mkdir(parents=True)
        imports = "\n".join(f'\t"example.com/big/internal/p{u}"' for u in used)
        calls = " + ".join(f"p{u}.Entry(len(os.Args))" for u in used)
        (d / "main.go").write_text(
            f'package main\n\nimport (\n\t"fmt"\n\t"os"\n\n\t"example.com/big/internal/version"\n{imports}\n)\n\n'
            f"func main() {{\n\tfmt.Println(version.Version, {calls})\n}}\n")
        binaries[name_dir.replace("/", "-").removeprefix("cmd-")] = "./" + name_dir
    listed = "\n".join(f"  {name}:\n    main: {main}" for name, main in binaries.items())
    (dest / "build.yaml").write_text(
        "project:\n  name: big\n  version: 1.0.0\n  version_package: ./internal/version\n"
        f"binaries:\n{listed}\n"
        "platforms:\n  - linux/amd64\n  - linux/arm64\n"
        "profiles:\n  release:\n    cgo: false\n    trimpath: true\n    strip: true\n"
        "    env:\n      GOFLAGS: -buildvcs=false -mod=readonly\n"
        "build:\n  out_dir: bin\n  jobs: auto\n  profile: release\n"
        "cache:\n  gocache: null\n  gomodcache: null\n")
    return dest


def _plain_go(project: config.Project, env: dict[str, str], platforms: list[str]) -> Callable[[], None]:
    """Plain ``go build`` of the same mains, as a careful Makefile would: per platform, all mains in one
    run at Go's default -p (a second run for mains whose output name is already taken)."""
    from ..build.builder import _compile_groups
    from ..build.plan import Plan

    recipe = prepare(project, Options(), env)[0]
    module = config.go_module_path(project.root)
    targets = [t for t in matrix(project) if t.platform in platforms]
    groups = _compile_groups([Plan(target=t, parts={}, old=None) for t in targets], module)

    def run() -> None:
        for group in groups:
            platform = group[0].target.platform
            out = project.root / group[0].target.out_rel(project.build.out_dir)
            out.parent.mkdir(parents=True, exist_ok=True)
            argv = [recipe.go.path, "build", *recipe.flags(), "-o", f"{out.parent}{os.sep}",
                    *sorted(p.target.main for p in group)]
            tools.run(argv, cwd=project.root, env={**recipe.env(platform), **env}, timeout=None,
                      hint="the bench stopped")
    return run


def generated(work: Path, kits: dict[str, str], platforms: list[str], packages: int,
              echo: Callable[[str], None]) -> list[Measure]:
    """Cold builds of a generated project: plain ``go build`` against ``invoke build`` of each kit.

    ``kits`` maps a label to the directory whose ``buildlib`` runs (this checkout, or an older one to
    compare with). Each case starts from an empty Go build cache of its own, so each compiles the same
    packages, the standard library included; the cases alternate so load on the machine hits all.
    """
    tree = generate_project(work / "tree", packages=packages)
    (tree / "tasks.py").write_text("from invoke import Collection\n\nfrom buildlib.tasks import build\n\n"
                                   "ns = Collection(build.build)\n")
    project = config.load(tree / config.CONFIG_NAME)
    gocache = work / "gocache"
    env = {**user_environ(), "GOCACHE": str(gocache), "CI": "1"}
    runners: dict[str, Callable[[], None]] = {"plain go build": _plain_go(project, env, platforms)}
    only = ",".join(platforms)
    for label, kit in kits.items():
        def run(kit: str = kit, label: str = label) -> None:
            done = tools.run([sys.executable, "-m", "invoke", "build", "--only", only], cwd=tree,
                             env={**env, "PYTHONPATH": kit}, timeout=None,
                             hint=f"the bench stopped at invoke build ({label})")
            echo(done.stdout.strip().splitlines()[-1])
        runners[f"invoke build --only {only} ({label})"] = run
    measures = []
    for case, run in runners.items():
        shutil.rmtree(gocache, ignore_errors=True)
        shutil.rmtree(tree / project.build.out_dir, ignore_errors=True)
        shutil.rmtree(tree / layout.BUILD_DIR, ignore_errors=True)
        echo(f"bench: {case}, cold ...")
        m = measure(case, "cold", run)
        echo(f"bench: {case}, cold: {m.wall:.1f}s wall, {m.cpu:.1f}s CPU, load {m.load:.1f}")
        measures.append(m)
    return measures


def main(argv: list[str] | None = None) -> int:
    """``python3 -m buildlib.bench.build generated``: the generated-project comparison, as a table."""
    import argparse

    parser = argparse.ArgumentParser(prog="python3 -m buildlib.bench.build")
    parser.add_argument("what", choices=["generated"])
    parser.add_argument("--packages", type=int, default=240, help="generated packages (default 240)")
    parser.add_argument("--platforms", default="linux/amd64", help="comma-separated (default linux/amd64)")
    parser.add_argument("--compare-with", default="", help="another checkout whose buildlib to measure too")
    args = parser.parse_args(argv)
    kits = {"this checkout": str(Path(__file__).resolve().parents[2])}
    if args.compare_with:
        kits[args.compare_with] = str(Path(args.compare_with).resolve())
    work = Path(tempfile.mkdtemp(prefix="buildlib-bench-gen-"))
    try:
        measures = generated(work, kits, args.platforms.split(","), args.packages,
                             console.err)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpus = capacity().cpus
    base = measures[0].wall
    console.table(["case (cold, own GOCACHE)", "wall", "CPU (use)", "vs plain go build"],
                  [[m.case, f"{m.wall:.1f}s", f"{m.cpu:.1f}s ({m.cpu_share * 100 / cpus:.0f}%)",
                    f"{m.wall / base:.2f}x"] for m in measures], right={1, 2, 3})
    console.out(f"machine: {capacity().why}; {args.packages} generated packages; load at the end "
                f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
