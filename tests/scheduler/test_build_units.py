"""The parts that need no compiler: scheduler, parallelism, selectors, versions, flags, cache keys."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from buildlib import config
from buildlib.build import scheduler
from buildlib.build.builder import parallelism
from buildlib.build.machine import Capacity
from buildlib.build.plan import Recipe
from buildlib.build.stamp import Stamp
from buildlib.build.step import Step
from buildlib.build.targets import matrix, select
from buildlib.config import parse_jobs
from buildlib.errors import BuildlibError, SelectionError
from buildlib.gotool import GoTool, version_tuple
from tests.helpers.support import run_invoke


class Sleep(Step):
    """A step that holds a slot for a while and remembers how many ran at once."""

    def __init__(self, name: str, deps: tuple[str, ...] = (), fail: bool = False, always: bool = False) -> None:
        self.name, self.deps, self.fail, self.always = name, deps, fail, always

    def run(self, ctx: dict[str, Any]) -> str:
        with ctx["lock"]:
            ctx["now"] += 1
            ctx["peak"] = max(ctx["peak"], ctx["now"])
            ctx["order"].append(self.name)
        time.sleep(0.05)
        with ctx["lock"]:
            ctx["now"] -= 1
        if self.fail:
            raise BuildlibError(f"{self.name} broke")
        return self.name


def _ctx() -> dict[str, Any]:
    return {"lock": threading.Lock(), "now": 0, "peak": 0, "order": []}


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_scheduler_never_runs_more_than_jobs_steps(jobs: int) -> None:
    ctx = _ctx()
    steps = [Sleep(f"s{i}") for i in range(6)] + [Sleep("last", deps=tuple(f"s{i}" for i in range(6)))]
    out = scheduler.run(steps, ctx, jobs)
    assert ctx["peak"] == jobs
    assert ctx["order"][-1] == "last"
    assert {o.status for o in out.values()} == {"ok"}


def test_a_failure_blocks_only_its_dependents_and_always_steps_still_run() -> None:
    ctx = _ctx()
    steps = [Sleep("pre"), Sleep("bad", deps=("pre",), fail=True), Sleep("good", deps=("pre",)),
             Sleep("after-bad", deps=("bad",)), Sleep("record", deps=("bad", "good"), always=True)]
    out = scheduler.run(steps, ctx, 2)
    assert out["bad"].status == "failed"
    assert str(out["bad"].error) == "bad: bad broke"
    assert out["good"].status == "ok"
    assert out["after-bad"].status == "blocked"
    assert str(out["after-bad"].error) == "after-bad: not run: bad failed"
    assert out["record"].status == "ok"
    assert "after-bad" not in ctx["order"]


def test_scheduler_rejects_unknown_dependencies() -> None:
    with pytest.raises(ValueError, match=r"step 'x' depends on unknown step\(s\) \['nope'\]"):
        scheduler.run([Sleep("x", deps=("nope",))], _ctx(), 1)


@pytest.mark.parametrize(("requested", "compiles", "cpus", "jobs", "p"), [
    ("auto", 3, 2, 3, 2),     # this machine: all three platforms at once, each may use both cores
    ("auto", 1, 2, 3, 2),
    (1, 3, 2, 1, 2),
    (8, 3, 2, 8, 2),
    (8, 3, 16, 8, 16),
    ("auto", 3, 8, 8, 8),     # memory: 64 GiB / 8 cores = 8 builds that may each run 8 compiles
])
def test_every_go_build_gets_all_the_cores(requested: Any, compiles: int, cpus: int, jobs: int, p: int) -> None:
    # Work-conserving: a go build that ends up running alone (the last platform, the big service)
    # must be able to use every core, so -p is never a share of the cores fixed at its start.
    par = parallelism(requested, compiles, Capacity(cpus=cpus, memory=64 << 30, why="test"))
    assert (par.jobs, par.go_p) == (jobs, p)
    assert par.why.endswith(f"{min(jobs, compiles)} go build(s) at once, each with -p {p}")


@pytest.mark.parametrize(("cpus", "gib", "compiles", "jobs", "p"), [
    (8, 3, 6, 1, 3),      # 3 GiB: one build, three compiles or links at once
    (2, 3, 3, 1, 2),
    (2, 4, 3, 2, 2),
    (2, 1, 3, 1, 1),
])
def test_memory_caps_builds_and_p(cpus: int, gib: int, compiles: int, jobs: int, p: int) -> None:
    par = parallelism("auto", compiles, Capacity(cpus=cpus, memory=gib << 30, why="test"))
    assert (par.jobs, par.go_p) == (jobs, p)
    # One GiB per compile or link that may run at once.
    assert min(par.jobs, compiles) * par.go_p <= max(1, gib)


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), ("4", 4), (" 2 ", 2), (3, 3)])
def test_parse_jobs_accepts(value: Any, expected: Any) -> None:
    assert parse_jobs(value) == expected


def test_selectors(repo: Path) -> None:
    targets = matrix(config.load(repo / "build.yaml"))
    ids = lambda sel: [t.id for t in select(targets, sel)]  # noqa: E731
    assert len(ids("")) == 6
    assert ids("server:linux/arm64") == ["server:linux/arm64"]
    assert ids("linux/arm64") == ["healthcheck:linux/arm64", "server:linux/arm64"]
    assert ids("healthcheck") == ["healthcheck:darwin/arm64", "healthcheck:linux/amd64", "healthcheck:linux/arm64"]
    assert ids("server:darwin/arm64, healthcheck:darwin/arm64") == ["healthcheck:darwin/arm64",
                                                                    "server:darwin/arm64"]
    with pytest.raises(SelectionError, match='unknown binary "api"; valid binaries: healthcheck, server'):
        select(targets, "api:linux/amd64")


def test_go_versions_compare_like_go() -> None:
    assert version_tuple("go1.26.8") > version_tuple("1.26")
    assert version_tuple("go1.27rc1") < version_tuple("go1.27") < version_tuple("go1.27.1")
    assert version_tuple("1.26.0") == version_tuple("go1.26")


def test_profiles_give_their_own_flags(repo: Path) -> None:
    project = config.load(repo / "build.yaml")
    go = GoTool(path="go", version="go1.26.8", env={})
    stamp = Stamp(version="1.0 beta", commit="abc", date="2026-01-01T00:00:00Z")
    release = Recipe(project, project.profile("release"), stamp, go, {"GOFLAGS": "-race"})
    dev = Recipe(project, project.profile("dev"), stamp, go, {})
    assert release.flags()[0] == "-trimpath"
    assert release.flags()[-1].startswith("-ldflags=-s -w -X ")
    assert "/internal/version.Version='1.0 beta'" in release.flags()[-1]  # quoted for the linker
    assert "-gcflags=all=-N -l" in dev.flags()
    assert not any(f.startswith("-ldflags=-s") for f in dev.flags())
    # The profile's environment replaces the caller's for what it sets.
    assert release.env("linux/arm64")["GOFLAGS"] == project.profile("release").env["GOFLAGS"]
    assert release.env("linux/arm64")["CGO_ENABLED"] == "0"
    assert (release.env("darwin/arm64")["GOOS"], release.env("darwin/arm64")["GOARCH"]) == ("darwin", "arm64")


def test_cache_key_is_stable_and_differs_per_platform(built_tree: Path) -> None:
    runs = [run_invoke("cache.key", "--platform", p, cwd=built_tree, timeout=60)
            for p in ("linux/amd64", "linux/amd64", "linux/arm64")]
    for r in runs:
        assert r.returncode == 0, r.stderr
    keys = [r.stdout.strip() for r in runs]
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]
    assert keys[0].startswith("ginsvc-go1.") and "-linux-amd64-" in keys[0]
    bad = run_invoke("cache.key", "--platform", "linux/s390x", cwd=built_tree, timeout=60)
    assert bad.returncode == 2
    assert 'unknown platform "linux/s390x"; valid platforms: darwin/arm64, linux/amd64, linux/arm64' in bad.stderr


def test_cache_key_follows_go_sum(built_copy: Path) -> None:
    before = run_invoke("cache.key", "--platform", "linux/amd64", cwd=built_copy).stdout.strip()
    gosum = built_copy / "go.sum"
    extra = "example.com/extra v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    gosum.write_text(gosum.read_text() + extra)
    after = run_invoke("cache.key", "--platform", "linux/amd64", cwd=built_copy).stdout.strip()
    assert before and after and before != after


def test_cache_info_reports_locations_and_last_build(built_tree: Path) -> None:
    done = run_invoke("cache.info", cwd=built_tree, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["cache", "location", "from", "size"]
    assert "GOCACHE" in done.stdout and "GOMODCACHE" in done.stdout and "GOCACHEPROG" in done.stdout
    assert "last build (release profile):" in done.stdout


def test_mains_with_one_output_name_share_as_few_go_builds_as_they_can() -> None:
    from buildlib.build.builder import _compile_groups
    from buildlib.build.plan import Plan
    from buildlib.build.targets import Target

    mains = {"svc": "./cmd/svc", "api": "./cmd/api", "gen-a": "./tools/a/gen", "gen-b": "./tools/b/gen",
             "gen-c": "./tools/c/gen"}
    plans = [Plan(target=Target(b, p, m), parts={}, old=None) for p in ("linux/amd64", "linux/arm64")
             for b, m in mains.items()]
    groups = [[p.target.binary for p in g] for g in _compile_groups(plans, "example.com/x")]
    # Per platform: every distinct name in the first go build, one more build per repeated name.
    assert groups == [["svc", "api", "gen-a"], ["gen-b"], ["gen-c"]] * 2


def test_after_orders_a_step_without_passing_a_failure_on() -> None:
    ctx = _ctx()
    first = Sleep("first", fail=True)
    second = Sleep("second", deps=("first",))
    second.after = ("first",)
    out = scheduler.run([first, second], ctx, 4)
    assert out["first"].status == "failed"
    assert out["second"].status == "ok"
    assert ctx["order"] == ["first", "second"]


def test_compile_steps_of_one_platform_run_one_after_the_other(built_copy: Path) -> None:
    # Two mains named "gen" in two directories: go build -o DIR/ cannot take both at once.
    for sub in ("a", "b"):
        d = built_copy / "tools" / sub / "gen"
        d.mkdir(parents=True)
        (d / "main.go").write_text(f'package main\n\nimport "fmt"\n\nfunc main() {{ fmt.Println("{sub}") }}\n')
    cfg = built_copy / "build.yaml"
    cfg.write_text(cfg.read_text().replace("binaries:\n", "binaries:\n  gen-a:\n    main: ./tools/a/gen\n"
                                           "  gen-b:\n    main: ./tools/b/gen\n", 1))
    done = run_invoke("build", "--only", "linux/amd64", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "1 go build(s) at once, each with -p " in out
    first = out.index("start  build linux/amd64: gen-a")
    assert out.index("done   build linux/amd64: gen-a") < out.index("start  build linux/amd64: gen-b") \
        and first < out.index("start  build linux/amd64: gen-b")
    for name in ("gen-a", "gen-b"):
        assert (built_copy / "bin" / "linux_amd64" / name).read_bytes()[:4] == b"\x7fELF"
