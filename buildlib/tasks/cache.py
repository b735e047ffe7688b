"""Tasks about Go's caches: where they are, a key for CI, pruning."""

from __future__ import annotations

from invoke import Collection, Context

from .. import console
from ..build import state
from ..build.builder import Options, prepare
from ..tables import human_size
from .common import one, project, task


@task
def info(c: Context) -> None:
    """Print where GOCACHE and GOMODCACHE are, their sizes and the last build's cache hits."""
    from ..build import gocache

    p = project(c)
    recipe = prepare(p, Options())[0]
    rows = []
    for loc in gocache.locations(recipe):
        size, files = gocache.dir_size(loc.path)
        rows.append([loc.name, loc.path, loc.source, f"{human_size(size)} in {files} files"])
    prog = recipe.base_env.get("GOCACHEPROG") or recipe.go.env.get("GOCACHEPROG")
    rows.append(["GOCACHEPROG", prog or "(unset)", "environment" if prog else "-",
                 "passed through to every go command" if prog else "set it to use a shared remote cache"])
    console.table(["cache", "location", "from", "size"], rows)
    last = state.load(p.root)["last_run"]
    if not last:
        console.out("\nlast build: none recorded in .build/build-state.json")
        return
    pk = last.get("go_packages", {})
    compiled, needed = pk.get("compiled", 0), pk.get("needed", 0)
    failed = last.get("targets", 0) - last.get("built", 0) - last.get("skipped", 0)
    console.out(f"\nlast build ({last.get('profile', '?')} profile): {last.get('built', 0)} target(s) built, "
                f"{last.get('skipped', 0)} up to date without starting go" + (f", {failed} failed" if failed else ""))
    if needed:
        console.out(f"Go build cache: {needed - compiled} of {needed} packages reused, {compiled} compiled or linked "
                    f"({(needed - compiled) * 100 // needed}% hits)")


@task(help={"platform": "GOOS/GOARCH, e.g. linux/arm64; without it, one line per platform of build.yaml"})
def key(c: Context, platform: str | None = None) -> None:
    """Print a stable CI cache key from go.sum, the Go version and the platform."""
    from ..build import gocache

    p = project(c)
    platform = one("platform", platform, gocache.project_platforms(p), "one line per platform")
    recipe = prepare(p, Options())[0]
    if platform:
        console.out(gocache.ci_key(recipe, platform))
        return
    for plat in gocache.project_platforms(p):
        console.out(f"{plat} {gocache.ci_key(recipe, plat)}")


@task(help={
    "older_than": 'remove GOCACHE entries unused for this long: 36h, 2d, 1w (default 2d)',
    "all": "empty GOCACHE completely (go clean -cache)",
    "modules": "also remove downloaded modules (go clean -modcache); they are downloaded again when needed",
})
def prune(c: Context, older_than: str = "2d", all: bool = False, modules: bool = False) -> None:
    """Remove unused Go build cache entries and the temporary files of killed builds."""
    from ..build import gocache
    from ..build.gobuild import clean_stale_temps

    p = project(c)
    recipe = prepare(p, Options())[0]
    age = gocache.parse_age(older_than)
    out = p.out_path()
    for sub in (out.iterdir() if out.is_dir() else []):
        if sub.is_dir():
            clean_stale_temps(sub)
    loc = {x.name: x for x in gocache.locations(recipe)}
    if all:
        gocache.go_clean(recipe, "-cache")
        console.out(f"emptied GOCACHE {loc['GOCACHE'].path}")
    else:
        r = gocache.prune_unused(loc["GOCACHE"].path, age)
        console.out(f"GOCACHE {loc['GOCACHE'].path}: removed {r.removed} entries ({human_size(r.removed_bytes)}) "
                    f"unused for {older_than}; kept {r.kept} ({human_size(r.kept_bytes)})")
    if modules:
        gocache.go_clean(recipe, "-modcache")
        console.out(f"emptied GOMODCACHE {loc['GOMODCACHE'].path}")


ns = Collection("cache", info, key, prune)
