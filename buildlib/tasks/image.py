"""Container images: build the variants, check sizes and policy, smoke-test, manage caches and bases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Collection, Context

from .. import config, console, layout
from ..atomic import write_bytes
from ..errors import CheckFailed, SelectionError
from ..sections import images as image_spec
from .common import not_blank, one, project, selection, task

if TYPE_CHECKING:
    from ..images.settings import ImageSettings

_VARIANT_HELP = "a variant (alpine, distroless, scratch); repeat or comma-separate; default images.variants"


def _variants(value: list[str] | None) -> None:
    """--variant, checked by the shared rule: blank is an error, only its absence means images.variants."""
    selection("variant", value, image_spec.VARIANTS, "images.variants")


def _settings(c: Context) -> ImageSettings:
    from ..images.settings import load

    return load(project(c))


@task(
    iterable=["variant", "label"],
    help={
        "variant": _VARIANT_HELP,
        "mode": "in-docker (compile in a builder stage) or prebuilt (package `invoke build` output); "
                "default images.mode",
        "local_bases": "use the local/... base images `invoke image.bases` makes (no registry needed)",
        "offline": "seed the module cache from the host and build with no network",
        "jobs": "variants built at once (1: one after another); default from images.parallel",
        "no_cache": "ignore the builder cache, cache mounts included (a clean build)",
        "repository": "image repository to tag (default images.repository or the project name)",
        "label": "an extra KEY=VALUE image label; repeatable",
        "version": "version for tags and labels instead of build.yaml's (in-docker mode)",
    },
)
def build(c: Context, variant: list[str] | None = None, mode: str | None = None, local_bases: bool = False,
          offline: bool = False, jobs: int = 0, no_cache: bool = False, repository: str | None = None,
          label: list[str] | None = None, version: str | None = None) -> None:
    """Build the image variants with BuildKit (tags REPO:VARIANT and REPO:VERSION-VARIANT)."""
    from ..images import build as build_mod

    _variants(variant)
    s = _settings(c)
    mode = one("mode", mode, image_spec.MODES, "images.mode")
    repository = not_blank("repository", repository, "images.repository")
    version = not_blank("version", version, "build.yaml's project.version")
    if mode and mode not in image_spec.MODES:
        raise SelectionError(f'unknown mode "{mode}"; valid modes: {", ".join(image_spec.MODES)}')
    opts = build_mod.ImageOptions(
        variants=s.select(variant), mode=mode or None, local_bases=local_bases,
        seed_modules=True if offline else None, jobs=jobs or None, no_cache=no_cache,
        repository=repository or None, labels=tuple(label or ()), version=version or None,
    )
    built = build_mod.build(s, opts)
    rows = [[b.variant, b.image_id[7:19], ", ".join(b.tags), f"{b.seconds:.1f}s"] for b in built]
    console.table(["variant", "image id", "tags", "time"], rows, right={3})


@task(
    iterable=["variant", "platform", "label"],
    help={
        "variant": _VARIANT_HELP,
        "platform": "a linux platform of the index (e.g. linux/arm64); repeat or comma-separate; "
                    "default images.publish.platforms",
        "repository": "registry repository to push to, e.g. registry.example.com/team/app; "
                      "default images.publish.repository",
        "builder": "the buildx builder (remote or docker-container driver); default images.publish.builder, "
                   "else the client's current one",
        "insecure": "the registry speaks plain HTTP (default images.publish.insecure)",
        "mode": "in-docker or prebuilt (package every platform's `invoke build` output); default images.mode",
        "jobs": "variants pushed at once; default from images.parallel",
        "no_cache": "ignore the builder cache, cache mounts included",
        "label": "an extra KEY=VALUE image label; repeatable",
        "version": "version for tags and labels instead of build.yaml's (in-docker mode)",
    },
)
def push(c: Context, variant: list[str] | None = None, platform: list[str] | None = None,
         repository: str | None = None, builder: str | None = None, insecure: bool = False,
         mode: str | None = None, jobs: int = 0, no_cache: bool = False, label: list[str] | None = None,
         version: str | None = None) -> None:
    """Push each variant for several platforms under one tag (an OCI index), through a buildx builder."""
    from ..images import build as build_mod
    from ..images import publish

    _variants(variant)
    platforms = _platforms(platform)
    mode = one("mode", mode, image_spec.MODES, "images.mode")
    if mode and mode not in image_spec.MODES:
        raise SelectionError(f'unknown mode "{mode}"; valid modes: {", ".join(image_spec.MODES)}')
    repository = not_blank("repository", repository, "images.publish.repository")
    builder = not_blank("builder", builder, "images.publish.builder")
    version = not_blank("version", version, "build.yaml's project.version")
    s = _settings(c)
    repository = repository or s.publish.repository
    if not repository:
        raise SelectionError("no registry to push to: set images.publish.repository in build.yaml "
                             "(e.g. registry.example.com/team/app) or pass --repository")
    if not re.fullmatch(image_spec.PUSH_REPOSITORY, repository):
        raise SelectionError(f"--repository {repository}: expected {image_spec.PUSH_REPOSITORY_HELP} "
                             "(the tags are added: REPO:VARIANT and REPO:VERSION-VARIANT)")
    builder = builder or s.publish.builder
    target = publish.PushTarget(repository, tuple(platforms or s.publish.platforms), builder,
                                insecure or s.publish.insecure)
    opts = build_mod.ImageOptions(variants=s.select(variant), mode=mode or None, jobs=jobs or None, no_cache=no_cache,
                                  labels=tuple(label or ()), version=version or None)
    pushed = publish.push(s, opts, target)
    rows = [[p.variant, ", ".join(p.tags), p.digest[:19], ", ".join(p.platforms), f"{p.seconds:.1f}s"]
            for p in pushed]
    console.table(["variant", "tags", "index digest", "platforms", "time"], rows, right={4})


@task(
    iterable=["platform"],
    help={
        "force": "import the images again even when their content label says they are current",
        "push": "instead, push them to this registry prefix (e.g. registry.example.com/team/bases), for a "
                "buildx builder that cannot read this engine's images",
        "platform": "with --push: platforms of the distroless stand-in (the others hold host binaries and get "
                    "the host's); default images.publish.platforms",
        "builder": "with --push: the buildx builder; default images.publish.builder",
        "insecure": "with --push: the registry speaks plain HTTP",
    },
)
def bases(c: Context, force: bool = False, push: str | None = None, platform: list[str] | None = None,
          builder: str | None = None, insecure: bool = False) -> None:
    """Make local base images (Go builder, distroless-static, alpine stand-in) from host packages."""
    from ..images import bases as bases_mod
    from ..images.sizes import mb

    push = not_blank("push", push, "importing into the engine")
    if push is None:
        if platform or builder or insecure:
            raise SelectionError("--platform, --builder and --insecure belong to --push PREFIX; add it, or leave "
                                 "them out to import the images into the engine")
        results = bases_mod.ensure(force=force, log=console.out)
        console.table(["role", "image", "result", "content", "time"],
                      [[r.role, r.tag, r.status, mb(r.size), f"{r.seconds:.1f}s"] for r in results], right={3, 4})
        return
    if not re.fullmatch(image_spec.PUSH_REPOSITORY, push):
        raise SelectionError(f"--push {push}: expected a registry prefix such as registry.example.com/team/bases "
                             "or 127.0.0.1:5000/bases")
    s = _settings(c)
    platforms = _platforms(platform) or s.publish.platforms
    builder = not_blank("builder", builder, "images.publish.builder") or s.publish.builder
    pushed = bases_mod.push(push, tuple(platforms), builder, insecure or s.publish.insecure, log=console.out)
    console.table(["role", "image", "platforms", "time"],
                  [[r.role, r.ref, ", ".join(r.platforms), f"{r.seconds:.1f}s"] for r in pushed], right={3})
    console.out("name them in build.yaml for builds on that builder: "
                + ", ".join(f"images.bases.{r.role}: {r.ref}" for r in pushed))


def _platforms(value: list[str] | None) -> list[str] | None:
    """--platform: linux platforms the images can be built for; None when the flag was not given."""
    linux = [p for p in config.KNOWN_PLATFORMS if p.startswith("linux/")]
    platforms = selection("platform", value, linux, "images.publish.platforms")
    unknown = [p for p in platforms or () if p not in linux]
    if unknown:
        raise SelectionError(f'--platform {unknown[0]}: not a linux platform the images can be built for; '
                             f'valid: {", ".join(linux)}')
    return list(dict.fromkeys(platforms)) if platforms else None


_SHARED = "accepted and ignored, so `nox -s image size_check -- ARGS` can pass one set of arguments to both"


@task(
    iterable=["variant", "label"],
    help={
        "variant": _VARIANT_HELP,
        "json": "print the report as JSON (for CI) instead of tables",
        "report": "also write the JSON report to this file (it always goes to .build/size_check.json)",
        "image": "check this image instead (policy only, strictest rules): e.g. a third-party base",
        "repository": "image repository the variants are tagged in (default images.repository)",
        **{flag: _SHARED for flag in ("mode", "local_bases", "offline", "jobs", "no_cache", "label", "version")},
    },
)
def check(c: Context, variant: list[str] | None = None, json: bool = False, report: str | None = None,
          image: str | None = None, repository: str | None = None, mode: str | None = None,
          local_bases: bool = False, offline: bool = False, jobs: int = 0, no_cache: bool = False,
          label: list[str] | None = None, version: str | None = None) -> None:
    """Check sizes against budgets and the policy (non-root, no shell, no secrets, healthcheck)."""
    from ..images import check as check_mod
    from ..report import history

    _variants(variant)
    s = _settings(c)
    report = not_blank("report", report, "only .build/size_check.json")
    image = not_blank("image", image, "the project's variants")
    repository = not_blank("repository", repository, "images.repository")
    if image:
        results = [check_mod.check_image(image)]
    else:
        repo = repository or s.repository
        results = [check_mod.check_variant(s, v, f"{repo}:{v}") for v in s.select(variant)]
    problems = [p for r in results for p in r.problems]
    doc = {"ok": not problems, "problems": problems, "images": [r.as_dict() for r in results]}
    if report:
        write_bytes(Path(report), _json_text(doc).encode())
    if not image:
        # The variants' check is the project's result: kept for `invoke report` and its history.
        write_bytes(s.project.root / layout.SIZE_CHECK, _json_text(doc).encode())
        history.record("size_check", doc, s.project.root)
    if json:
        console.out(_json_text(doc))
    else:
        console.out(check_mod.summary(results))
        for r in results:
            console.out()
            console.out(check_mod.details(r))
    if problems:
        raise CheckFailed("image check failed:\n  " + "\n  ".join(problems))


def _json_text(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


@task(
    iterable=["variant"],
    help={
        "variant": _VARIANT_HELP,
        "repository": "image repository the variants are tagged in (default images.repository)",
        "shutdown_timeout": "seconds SIGTERM may take to stop the service (sets SHUTDOWN_TIMEOUT)",
    },
)
def smoke(c: Context, variant: list[str] | None = None, repository: str | None = None,
          shutdown_timeout: int = 10) -> None:
    """Run each variant: service.health answers 200 on 127.0.0.1, Docker health turns healthy, SIGTERM exits 0."""
    from ..images import smoke as smoke_mod

    _variants(variant)
    s = _settings(c)
    repository = not_blank("repository", repository, "images.repository")
    repo = repository or s.repository
    rows = []
    for v in s.select(variant):
        r = smoke_mod.run(f"{repo}:{v}", container_port=s.port, health=s.service.health,
                          shutdown_timeout=shutdown_timeout)
        rows.append([v, r.image, f"127.0.0.1:{r.port}", f"{r.ready_s:.2f}s", f"{r.healthy_s:.2f}s",
                     f"{r.stop_s:.2f}s", str(r.exit_code)])
    ready = f"{s.service.health} 200" if s.service.health else "port open"
    console.table(["variant", "image", "published", ready, "healthy", "SIGTERM stop", "exit"], rows,
                  right={3, 4, 5})


@task(help={
    "prune": "empty this project's cache mounts (other projects' and the layer cache stay)",
    "local_bases": "probe with the local builder image (no registry needed)",
})
def cache(c: Context, prune: bool = False, local_bases: bool = False) -> None:
    """Show what this project's BuildKit cache mounts hold; --prune clears them."""
    from ..images import build as build_mod
    from ..images import cache as cache_mod
    from ..images.sizes import mb

    s = _settings(c)
    builder = build_mod.builder_image(s, local_bases)
    mounts = cache_mod.prune(builder, s.name) if prune else cache_mod.report(builder, s.name)
    rows = [[m.what, m.id, mb(m.kib * 1024), str(m.entries) + (" modules" if "module" in m.what else " files")]
            + ([mb((m.kib_after or 0) * 1024)] if prune else []) for m in mounts]
    console.table(["cache mount", "id", "size", "holds"] + (["after prune"] if prune else []), rows, right={2})
    summary = cache_mod.engine_summary()
    if summary:
        console.out(f"engine builder cache, all projects: {mb(summary.total)} in {summary.records} records, "
                    f"{mb(summary.cache_mount_bytes)} of it in {summary.cache_mounts} cache mounts ("
                    "as the engine last measured it; `docker builder prune` clears it all)")


@task(
    iterable=["only"],
    help={
        "only": f"parts to run: {', '.join(image_spec.BENCH_PARTS)} (repeat or comma-separate; default all)",
        "local_bases": "build on the local/... base images",
        "touch": "the .go file the rebuild figures edit (in a copy of the repository)",
        "json": "write the figures as JSON to this file (default .build/images/bench.json)",
    },
)
def bench(c: Context, only: list[str] | None = None, local_bases: bool = False,
          touch: str = "internal/server/router.go", json: str = "") -> None:
    """Measure sizes, rebuilds with/without cache mounts, parallel builds, reproducibility, and ko."""
    from ..bench import images as bench_mod

    parts = tuple(selection("only", only, image_spec.BENCH_PARTS, "every part") or image_spec.BENCH_PARTS)
    s = _settings(c)
    unknown = [p for p in parts if p not in image_spec.BENCH_PARTS]
    if unknown:
        raise SelectionError(f'unknown benchmark part "{unknown[0]}"; parts: {", ".join(image_spec.BENCH_PARTS)}')
    result = bench_mod.bench(s, parts, local_bases, touch)
    out = Path(json) if json else s.root / layout.IMAGE_BENCH
    write_bytes(out, _json_text(result).encode())
    console.out(bench_mod.markdown(result))
    console.out(f"figures written to {out}")


ns = Collection("image", build, push, bases, check, smoke, cache, bench)
ns.default = "build"
