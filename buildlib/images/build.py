"""Build image variants with BuildKit through the docker CLI, several at once.

One Dockerfile, one target per variant. Variants built at the same time share
the `compile` stage: BuildKit merges identical steps of concurrent builds, so
the service is compiled once however many variants are asked for.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .. import console, gotool, layout, service, tools
from ..build.plan import build_flags
from ..build.stamp import Stamp, stamp
from ..errors import ToolError
from . import bases, buildlog, dockerfile, modseed, prebuilt, probe
from .engine import DockerCLI, cli, require_engine
from .errors import BuildStepFailed
from .normalise import base_layers, normalise
from .settings import LOCAL, ImageSettings

LOG_DIR = layout.IMAGES
T = TypeVar("T")
# The base each variant's final stage starts from (scratch takes files from distroless).
_BASE_ROLE = {"alpine": "alpine", "distroless": "distroless", "scratch": None}


@dataclass(frozen=True)
class ImageOptions:
    variants: tuple[str, ...]
    mode: str | None = None            # None: build.yaml
    local_bases: bool = False          # every base "local" (made by image.bases)
    seed_modules: bool | None = None   # None: build.yaml
    jobs: int | None = None            # None: build.yaml's parallel setting
    no_cache: bool = False             # ignore the builder cache, cache mounts included
    repository: str | None = None
    labels: tuple[str, ...] = ()       # extra KEY=VALUE labels
    version: str | None = None
    cache_mounts: bool = True          # False: the benchmark's baseline without cache mounts
    reproducible: bool | None = None   # None: build.yaml
    platforms: tuple[str, ...] = ()    # a multi-platform push; none: images.platform


@dataclass(frozen=True)
class BuiltImage:
    variant: str
    image_id: str
    tags: tuple[str, ...]
    seconds: float
    log: Path
    mode: str


@dataclass(frozen=True)
class ImagePlan:
    """Everything a build of one set of variants needs, worked out once."""

    settings: ImageSettings
    opts: ImageOptions
    mode: str
    stamp: Stamp
    args: dict[str, str]
    base_refs: dict[str, str | None]
    seeded: bool
    jobs: int
    dockerfile: Path


def epoch_of(stamp_: Stamp) -> int:
    return int(dt.datetime.fromisoformat(stamp_.date.replace("Z", "+00:00")).timestamp())


def _tag_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:100].lstrip(".-") or "dev"


def tags(settings: ImageSettings, variant: str, version: str, repository: str | None = None) -> list[str]:
    """REPO:VARIANT and REPO:VERSION-VARIANT."""
    repo = repository or settings.repository
    return [f"{repo}:{variant}", f"{repo}:{_tag_safe(version)}-{variant}"]


def _base_refs(settings: ImageSettings, opts: ImageOptions) -> dict[str, str | None]:
    refs: dict[str, str | None] = {}
    stages = dockerfile.stage_names(settings.dockerfile)
    for role in ("builder", "alpine", "distroless"):
        ref = LOCAL if opts.local_bases else settings.bases[role]
        if ref in stages:
            # BuildKit would take the stage for the image; the cycle crashes dockerd 20.10.
            raise settings.project.error(f"images.bases.{role}", f'"{ref}" is also the name of a Dockerfile stage; '
                                         "write the image with its tag (e.g. alpine:3.22) or registry")
        refs[role] = bases.resolve(role, ref)
    if refs["builder"] is None:
        need = gotool.required_version(settings.root)
        if not need:
            raise settings.project.error("images.bases.builder", "go.mod has no go line to pick golang:<version> "
                                                                   "from; name a builder image here")
        refs["builder"] = f"golang:{need}"
    return refs


def builder_image(settings: ImageSettings, local_bases: bool) -> str:
    """The Go builder image the compile stage uses (made first when it is the local one)."""
    ref = _base_refs(settings, ImageOptions(variants=(), local_bases=local_bases))["builder"]
    assert ref is not None
    if ref == bases.local_tag("builder"):
        bases.ensure(("builder",))
    return ref


def _check_local_builder(settings: ImageSettings, ref: str) -> None:
    need = gotool.required_version(settings.root)
    host = bases.host_go().version
    if need and ref == bases.local_tag("builder") and gotool.version_tuple(host) < gotool.version_tuple(need):
        raise ToolError(f"go.mod needs Go {need}, but the local builder image carries the host's Go {host}; "
                        f"install Go {need} on the host and run `invoke image.bases` again")


def needed_roles(variants: tuple[str, ...], mode: str) -> list[str]:
    # The builder compiles the health probe and gathers the service's files in both modes.
    roles = ["builder"]
    for v in variants:
        role = _BASE_ROLE[v] or "distroless"
        if role not in roles:
            roles.append(role)
    return roles


# A cgo binary is linked statically: none of the variants has a C library to load it with.
CGO_STATIC_LDFLAGS = "-linkmode external -extldflags=-static"


def _recipe_args(settings: ImageSettings, st: Stamp) -> dict[str, str]:
    """The compile stage's flags and environment, from the build's own recipe (plan.build_flags and
    the profile's go_env), shell-quoted for the stage to read back with ``eval``: an image compiles
    what ``invoke build`` compiles, byte for byte."""
    prof = settings.project.profile()
    flags = build_flags(settings.project, prof, st, CGO_STATIC_LDFLAGS if prof.cgo else "")
    env = prof.go_env()
    return {"GO_FLAGS": shlex.join(flags), "GO_ENV": shlex.join(f"{k}={v}" for k, v in env.items()),
            "CGO": env["CGO_ENABLED"]}


def _service_args(settings: ImageSettings) -> dict[str, str]:
    svc = settings.service
    return {
        "BINARY": svc.binary,
        "MAIN": settings.project.binaries[svc.binary].main,
        "PORT": str(svc.port),
        "HEALTH": svc.health or "",
        "WORKDIR": svc.workdir,
    }


def plan(settings: ImageSettings, opts: ImageOptions, log: Callable[[str], None] = console.out) -> ImagePlan:
    """Resolve bases, stamp, seed and build args; make missing local bases."""
    mode = opts.mode or settings.mode
    refs = _base_refs(settings, opts)
    roles = needed_roles(opts.variants, mode)
    local_roles = tuple(r for r in roles if refs[r] == bases.local_tag(r))

    def engine_side() -> None:
        require_engine()
        for r in bases.ensure(local_roles) if local_roles else []:
            if r.status == "built":
                log(f"made local base image {r.tag} in {r.seconds:.1f}s")

    # The engine's checks and the local bases meanwhile, in prebuilt mode the binaries here (in the
    # main thread, so that Ctrl-C stops their go processes as it stops `invoke build`'s).
    with ThreadPoolExecutor(max_workers=1) as pool:
        ready = pool.submit(engine_side)
        if mode == "prebuilt":
            prebuilt.build_current(settings, opts.platforms, log)
        ready.result()
    if mode == "in-docker" and refs["builder"] == bases.local_tag("builder"):
        _check_local_builder(settings, refs["builder"])
    seed = opts.seed_modules
    if seed is None:
        seed = settings.seed_modules if settings.seed_modules != "auto" else shutil.which("go") is not None
    seeded = bool(seed) and mode == "in-docker"
    if seeded:
        _, count, size = modseed.seed(settings.project)
        log(f"seeded the module cache from the host: {count} modules, {size / 1e6:.1f} MB")
    st = prebuilt.stamp(settings, opts.platforms) if mode == "prebuilt" else stamp(
        settings.root, settings.project.project.version, override=opts.version)
    args = {
        "GO_IMAGE": refs["builder"] or "",
        "ALPINE_IMAGE": refs["alpine"] or "",
        "DISTROLESS_IMAGE": refs["distroless"] or "",
        "MODE": mode,
        "MODSEED": "on" if seeded else "off",
        "PROJECT": settings.name,
        "VERSION": st.version,
        "REVISION": st.commit,
        "CREATED": st.date,
        "BIN_DIR": settings.project.build.out_dir,
        "TITLE": settings.name,
        **_service_args(settings),
        **_recipe_args(settings, st),
    }
    probe.write_source(settings.root)
    if opts.jobs:
        jobs = opts.jobs
    elif settings.parallel == "auto":
        jobs = len(opts.variants) if (os.cpu_count() or 1) > 1 else 1
    else:
        jobs = len(opts.variants) if settings.parallel else 1
    rendered = dockerfile.render(settings.dockerfile, settings.root, args["PROJECT"], opts.cache_mounts,
                                 entrypoint=(f"/{service.BIN_DIR}/{settings.service.binary}", *settings.service.args),
                                 runtime=dockerfile.runtime_files(settings.service))
    return ImagePlan(settings, opts, mode, st, args, refs, seeded, max(1, jobs), rendered)


def build_args(p: ImagePlan, variant: str) -> list[str]:
    """The arguments of a BuildKit build of ``variant`` that every output (load or push) shares."""
    argv = ["--progress=plain", "-f", str(p.dockerfile), "--target", f"image-{variant}"]
    for key, value in p.args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for label in p.opts.labels:
        argv += ["--label", label]
    if p.opts.no_cache:
        argv.append("--no-cache")
    if p.seeded or p.mode == "prebuilt":
        # Nothing is fetched while building: prove it by having no network.
        argv.append("--network=none")
    return argv


def _argv(p: ImagePlan, client: DockerCLI, variant: str, iidfile: Path) -> list[str]:
    s = p.settings
    argv = [*client.build_argv(), *build_args(p, variant), "--platform", s.platform, "--iidfile", str(iidfile)]
    for tag in tags(s, variant, p.stamp.version, p.opts.repository):
        argv += ["-t", tag]
    return [*argv, str(s.root)]


def registry_hint(p: ImagePlan, found: buildlog.Failure) -> str:
    """What to do when a base image's registry cannot be reached from here."""
    ref = buildlog.unreachable_base(found)
    if ref is None:
        return ""
    wanted = buildlog.short_ref(ref)
    roles = [r for r, v in p.base_refs.items() if v and buildlog.short_ref(v) == wanted] or ["builder"]
    keys = " or ".join(f"images.bases.{r}" for r in roles)
    return (f"no registry answers for the base image {wanted}. Where none is reachable, make local stand-ins "
            f"with `invoke image.bases` and build with `--local-bases` (or set {keys}: local); or point {keys} "
            f"at a mirror that has it, e.g. mirror.example.internal/{wanted}")


def run_logged(p: ImagePlan, variant: str, argv: list[str], env: dict[str, str], log_name: str) -> Path:
    """One BuildKit build of ``variant`` (loaded or pushed), its output in .build/images/LOG_NAME.log;
    a failure is raised naming the Dockerfile step and its output, with a hint for an unreachable base."""
    root = p.settings.root
    log_dir = root / LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{log_name}.log"
    log_path.unlink(missing_ok=True)  # a new file: never write through a hard link into another tree
    with open(log_path, "wb") as out:
        # Not checked: the log names the Dockerfile step that failed, which says more than the exit status.
        proc = tools.run(argv, stdout=out, merge_stderr=True, env=env, cwd=root, timeout=None, check=False,
                         text=False)
    if proc.returncode != 0:
        found = buildlog.failure(log_path.read_text(errors="replace"))
        raise BuildStepFailed(variant, found.step, found.output, str(log_path.relative_to(root)),
                              registry_hint(p, found))
    return log_path


def _build_one(p: ImagePlan, client: DockerCLI, variant: str) -> BuiltImage:
    s = p.settings
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iid-") as tmp:
        iidfile = Path(tmp) / "iid"
        log_path = run_logged(p, variant, _argv(p, client, variant, iidfile), client.env(), variant)
        image_id = iidfile.read_text().strip()
    names = tags(s, variant, p.stamp.version, p.opts.repository)
    reproducible = s.reproducible if p.opts.reproducible is None else p.opts.reproducible
    if reproducible:
        built_id = image_id
        base = base_layers(client, p.base_refs[_BASE_ROLE[variant]] if _BASE_ROLE[variant] else None)
        image_id = normalise(client, built_id, names, epoch_of(p.stamp), base, workdir=log_path.parent)
        if built_id != image_id:  # the clock-stamped original is untagged now; drop it
            client.run("image", "rm", built_id, check=False)
    return BuiltImage(variant, image_id, tuple(names), time.monotonic() - start, log_path, p.mode)


def build(settings: ImageSettings, opts: ImageOptions, log: Callable[[str], None] = console.out) -> list[BuiltImage]:
    """Build ``opts.variants``; the first failure is raised after the other builds end."""
    p = plan(settings, opts, log)
    client = cli()
    how = "in parallel" if p.jobs > 1 and len(opts.variants) > 1 else "one after another"
    log(f"building {', '.join(opts.variants)} ({p.mode}, {how}) with {client.how}")

    def done(b: BuiltImage) -> None:
        log(f"{b.variant:<11} {b.image_id[7:19]}  {b.tags[0]}  {b.seconds:.1f}s")

    return each_variant(p, lambda v: _build_one(p, client, v), log, done)


def each_variant(p: ImagePlan, work: Callable[[str], T], log: Callable[[str], None],
                 done: Callable[[T], None] = lambda result: None) -> list[T]:
    """``work(variant)`` for every variant of the plan, ``p.jobs`` at once (BuildKit merges their shared
    steps); the first failure is raised once the others have ended."""
    results: dict[str, T] = {}
    errors: list[Exception] = []
    with ThreadPoolExecutor(max_workers=p.jobs) as pool:
        futures = {v: pool.submit(work, v) for v in p.opts.variants}
        for variant, fut in futures.items():
            try:
                results[variant] = fut.result()
                done(results[variant])
            except Exception as exc:  # noqa: BLE001 - collected, the first is raised below
                errors.append(exc)
                log(f"{variant:<11} FAILED")
    if errors:
        raise errors[0]
    return [results[v] for v in p.opts.variants]
