"""Checks before any compile: modules downloaded once, go.mod/go.sum tidy, module cache verified,
and no embedded file holds a secret.

Each failure says what is wrong and which command fixes it. A check whose
inputs have not changed since it last passed (recorded in the build state)
is not run again: ``go mod verify`` hashes every module and costs a second.
The module checks also leave their pass beside the module cache they checked
(``GOMODCACHE/cache/buildlib/``), so removing ``.build/`` does not repeat them,
and ``go clean -modcache`` removes the record with what it vouched for.
"""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CheckFailed
from .inputs import go_header, list_packages, module_go_files
from .keys import digest
from .results import CheckPassed, PlatformListing, StepNote
from .step import Step

if TYPE_CHECKING:
    from .builder import Context


def _go(ctx: Context, *args: str, check: bool = False, hint: str = "") -> subprocess.CompletedProcess[str]:
    """A check's ``go ARGS``: the recipe's environment, stopped with the build."""
    return ctx.recipe.go_run(None, *args, cancel=ctx.cancel, timeout=1800, check=check, hint=hint)


def _go_headers(root: Path, files: dict[str, str | None]) -> list[tuple[str, str | None]]:
    """``files`` (path: content hash) with each .go file's hash replaced by its header (inputs.go_header):
    what the checks keyed on it read of the file, so that editing a function body does not run them again."""
    out = []
    for path, value in sorted(files.items()):
        if path.endswith(".go"):
            try:
                value = go_header((root / path).read_bytes())
            except OSError:
                value = None
        out.append((path, value))
    return out


def _modcache_sig(path: str) -> list[int]:
    """Identity of the module cache: removing it (go clean -modcache) changes this."""
    try:
        st = os.stat(os.path.join(path, "cache", "download"))
    except OSError:
        return [0, 0]
    return [st.st_dev, st.st_ino]


class Check(Step):
    """A preflight step that is skipped while its recorded key still matches."""

    # The key is only go.mod/go.sum and the module cache's: the pass is also kept beside that cache.
    beside_modcache = False

    def key(self, ctx: Context) -> str:
        raise NotImplementedError

    def check(self, ctx: Context) -> None:
        raise NotImplementedError

    def run(self, ctx: Context) -> CheckPassed | StepNote:
        key = self.key(ctx)
        if not ctx.force and (ctx.checks_before.get(self.name) == key or self._kept(ctx, key)):
            return CheckPassed(self.name, key, " - passed before, inputs unchanged")
        self.check(ctx)
        if self.beside_modcache:
            self._keep(ctx, self.key(ctx))  # after the check: a download may have made the cache
        return CheckPassed(self.name, key)

    def _record(self, ctx: Context, key: str) -> Path:
        return Path(ctx.recipe.gomodcache()) / "cache" / "buildlib" / f"{self.name}-{key}"

    def _kept(self, ctx: Context, key: str) -> bool:
        return self.beside_modcache and self._record(ctx, key).exists()

    def _keep(self, ctx: Context, key: str) -> None:
        record = self._record(ctx, key)
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.touch()
        except OSError:
            pass  # a read-only module cache: the build state still has the pass


class DownloadModules(Check):
    beside_modcache = True
    name = "modules"
    label = "download modules (go mod download)"
    weight = 3

    def key(self, ctx: Context) -> str:
        modcache = ctx.recipe.gomodcache()
        return digest([ctx.hashes.get("go.mod"), ctx.hashes.get("go.sum"), modcache, _modcache_sig(modcache)])

    def check(self, ctx: Context) -> None:
        _go(ctx, "mod", "download", check=True,
            hint="check the network or GOPROXY, or fix go.mod (go mod tidy), and run again")

    def run(self, ctx: Context) -> CheckPassed | StepNote:
        passed = super().run(ctx)
        # The download changed the module cache's identity if it created it: record the final one.
        return replace(passed, key=self.key(ctx)) if isinstance(passed, CheckPassed) else passed


class TidyCheck(Check):
    """go.mod and go.sum list exactly what the code imports (`go mod tidy -diff` is empty)."""

    name = "tidy"
    label = "check go.mod/go.sum are tidy (go mod tidy -diff)"
    deps = ("modules",)
    weight = 2

    def key(self, ctx: Context) -> str:
        # Tidiness depends on go.mod, go.sum and the imports (and build constraints) of every .go file
        # of the module, not on the rest of the code.
        root = ctx.recipe.root
        skip = {ctx.recipe.project.build.out_dir, "vendor", "node_modules"}
        files = module_go_files(root, skip)
        return digest([ctx.hashes.get("go.mod"), ctx.hashes.get("go.sum"), ctx.recipe.go.version,
                       _go_headers(root, dict.fromkeys(files))])

    def run(self, ctx: Context) -> CheckPassed | StepNote:
        mode = ctx.recipe.project.build.tidy
        if mode == "off":
            return StepNote(" - skipped (build.tidy: off)")
        try:
            return super().run(ctx)
        except NotTidy as exc:
            if mode == "warn":
                return StepNote(f" - warning: {exc.summary} (build.tidy: warn); run `go mod tidy` and commit "
                                "go.mod and go.sum")
            raise

    def check(self, ctx: Context) -> None:
        out = _go(ctx, "mod", "tidy", "-diff")
        if out.returncode != 0:
            diff = out.stdout.strip() or out.stderr.strip()
            summary = tidy_summary(diff)
            lines = diff.splitlines()
            if len(lines) > 40:
                diff = "\n".join(lines[:40]) + f"\n... ({len(lines) - 40} more lines)"
            raise NotTidy(
                f"go.mod/go.sum are not tidy (they do not match the imports; {summary}):\n"
                f"{diff}\nRun `go mod tidy` and commit go.mod and go.sum, or set build.tidy: warn (or off) in "
                "build.yaml to build anyway.", summary)


def tidy_summary(diff: str) -> str:
    """How far from tidy a `go mod tidy -diff` is: its added and removed lines."""
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return f"go mod tidy would add {added} line(s) and delete {removed}"


class NotTidy(CheckFailed):
    def __init__(self, message: str, summary: str) -> None:
        super().__init__(message)
        self.summary = summary


class VerifyModules(Check):
    """The downloaded modules are the ones go.sum names (`go mod verify`)."""

    beside_modcache = True
    name = "verify"
    label = "verify module cache (go mod verify)"
    deps = ("modules",)
    weight = 3  # the slowest check: start it first
    light = True  # runs beside the compiles (which wait for it only to install), without taking a slot

    def key(self, ctx: Context) -> str:
        modcache = ctx.recipe.gomodcache()
        return digest([ctx.hashes.get("go.sum"), modcache, _modcache_sig(modcache)])

    def check(self, ctx: Context) -> None:
        out = _go(ctx, "mod", "verify")
        if out.returncode != 0:
            raise CheckFailed(
                f"`go mod verify` failed: the module cache does not match go.sum:\n"
                f"{(out.stdout + out.stderr).strip()}\n"
                "Run `go clean -modcache` and build again to download clean copies.")


class SecretsFound(CheckFailed):
    """An embedded file matches a secret rule: it would ship inside the binary and be served by it.

    Exit 2, not a check's 1: the fix is in what the user gave (the file, or build.yaml's allow list)."""

    exit_code = 2


@dataclass
class Embedded:
    """One file that a ``//go:embed`` directive puts into the binaries."""

    path: str                                             # absolute
    name: str                                             # as the user knows it (and as allow globs match it)
    packages: set[str] = field(default_factory=set)       # import paths that embed it
    binaries: set[str] = field(default_factory=set)


def _display(path: str, root: Path, modcache: str) -> str:
    """A path from the repository root, or module@version/... for a file of the module cache."""
    real = os.path.realpath(path)
    for base in (os.path.realpath(root), os.path.realpath(modcache) if modcache else ""):
        if base and real.startswith(base + os.sep):
            return os.path.relpath(real, base).replace(os.sep, "/")
    return real


class SecretScan(Step):
    """Every file embedded into a target to build matches no secret rule (detect-secrets), unless allowed.

    ``go list -deps`` of each main (the run's own listing, when it made one)
    names the EmbedFiles of every package the binary links, the module's and
    its dependencies' (the standard library is part of the Go version). The
    pass is recorded under a key of the targets' input files and settings (not
    the version stamp): the contents of the files that are not Go, and of each
    .go file only what decides the packages and the embedded files (imports,
    build constraints, ``//go:embed`` lines). So a rebuild for a new version, a
    missing output or an edit of a function body does not scan again; nothing
    is imported from detect-secrets unless a file must be scanned.
    """

    name = "secrets"
    label = "scan embedded files for secrets"
    deps = ("modules",)
    weight = 2

    def __init__(self, plans: list[Any], listing: tuple[str, ...] = ()) -> None:
        self.plans = sorted(plans, key=lambda p: p.id)
        # After the `go list` steps of the run (``listing``), whose results hold the plans' current inputs.
        self.deps = (*self.deps, *listing)

    def _key(self, ctx: Context) -> str:
        """The plans' current inputs (the run's `go list` steps came first) and settings, stamp aside."""
        from .secretscan import rules_version

        root = ctx.recipe.root
        return digest([rules_version(), list(ctx.recipe.project.build.secrets_allow), [
            [p.id, {k: v for k, v in p.parts.items() if k != "stamp"}, _go_headers(root, p.files),
             _go_headers(root, p.ignored)] for p in ctx.final_plans(self.plans)]])

    def run(self, ctx: Context) -> CheckPassed:
        key = self._key(ctx)
        if not ctx.force and ctx.checks_before.get(self.name) == key:
            # The same key as recorded: the record step's merge of it changes nothing.
            return CheckPassed(self.name, key, " - passed before, inputs unchanged")
        return CheckPassed(self.name, key, self._scan(ctx, self._embedded(ctx)))

    def _embedded(self, ctx: Context) -> list[Embedded]:
        recipe = ctx.recipe
        root, modcache = recipe.root, recipe.gomodcache()
        by_platform: dict[str, list[Any]] = defaultdict(list)
        for plan in ctx.final_plans(self.plans):
            by_platform[plan.target.platform].append(plan)
        found: dict[str, Embedded] = {}
        for platform, plans in sorted(by_platform.items()):
            mains = {p.target.main for p in plans}
            listing = ctx.result(f"list {platform}", PlatformListing)
            pkgs = list(listing.packages) if listing else []
            if not listing or not mains <= listing.mains:  # this run listed none of these (inputs known): list now
                pkgs = list_packages(recipe, platform, sorted(mains))
            by_path = {p["ImportPath"]: p for p in pkgs}
            by_dir = {os.path.realpath(p.get("Dir", "")): p for p in pkgs}
            for plan in plans:
                main = by_dir.get(os.path.realpath(root / plan.target.main), {})
                for path in (main.get("ImportPath", ""), *main.get("Deps", [])):
                    pkg = by_path.get(path) or {}
                    if pkg.get("Standard"):
                        continue
                    for rel in pkg.get("EmbedFiles") or []:
                        full = os.path.join(pkg["Dir"], rel)
                        item = found.setdefault(full, Embedded(full, _display(full, root, modcache)))
                        item.packages.add(pkg["ImportPath"])
                        item.binaries.add(plan.target.binary)
        return sorted(found.values(), key=lambda e: e.name)

    def _scan(self, ctx: Context, embedded: list[Embedded]) -> str:
        if not embedded:
            return " - no embedded files"
        from .secretscan import allowed_by, scanner, summarise

        allow = ctx.recipe.project.build.secrets_allow
        refused, passed = [], []
        with scanner() as scan:
            for item in embedded:
                try:
                    hits = scan.scan_path(Path(item.path))
                except OSError as exc:
                    raise CheckFailed(f"cannot read the embedded file {item.name}: {exc.strerror}") from exc
                if not hits:
                    continue
                pattern = allowed_by(item.name, allow)
                where = f"{item.name}: {summarise(hits)}"
                if pattern is None:
                    refused.append(f"  {where} - embedded by {', '.join(sorted(item.packages))} "
                                   f"into {', '.join(sorted(item.binaries))}")
                else:
                    passed.append(f'{where}, allowed by build.secrets_allow "{pattern}"')
        if refused:
            raise SecretsFound(
                f"{len(refused)} embedded file(s) match a secret rule; the binaries would carry them and serve "
                "them:\n" + "\n".join(refused) + "\nTake them out of the embedded directories (and rotate any "
                "real secret that was committed), or, for a deliberate test fixture, add its path or a glob to "
                "build.secrets_allow in build.yaml.")
        note = f" - {len(embedded)} embedded file(s), no secret"
        return note + (f" outside the allow-list ({'; '.join(passed)})" if passed else "")


def steps(plans: list[Any], listing: tuple[str, ...] = ()) -> list[Any]:
    """The checks before the compiles of ``plans`` (the targets to build); ``listing``: the run's `go list` steps."""
    return [DownloadModules(), TidyCheck(), VerifyModules(), SecretScan(plans, listing)]
