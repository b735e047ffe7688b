"""Push each variant as one tag naming every platform: an OCI index in a registry.

The binaries are cross-compiled (prebuilt: `invoke build` made one per
platform; in-docker: the compile stage runs on the builder's own platform),
and the variants' final stages only copy files, so an arm64 image needs no
emulation. A multi-platform result cannot land in a Docker 20.10 image store,
so it goes straight to the registry from a buildx builder of the
docker-container or remote driver: the shared BuildKit a team runs.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import console
from ..errors import ToolError
from .build import ImageOptions, ImagePlan, build_args, each_variant, epoch_of, needed_roles, plan, run_logged, tags
from .engine import DockerCLI, cli
from .settings import LOCAL, ImageSettings

_CREATE_HINT = ("create one with `docker buildx create --name shared --driver remote unix:///run/buildkit/"
                "buildkitd.sock` (a buildkitd a team shares) or `--driver docker-container`, then set "
                "images.publish.builder or pass --builder")


@dataclass(frozen=True)
class PushTarget:
    """Where a push goes and how it gets there."""

    repository: str
    platforms: tuple[str, ...]
    builder: str | None
    insecure: bool


@dataclass(frozen=True)
class Pushed:
    variant: str
    tags: tuple[str, ...]
    digest: str        # of the OCI index the tags name
    platforms: tuple[str, ...]
    seconds: float
    log: Path


@dataclass(frozen=True)
class Builder:
    name: str
    driver: str
    status: str
    endpoint: str


def inspect_builder(client: DockerCLI, name: str | None) -> Builder:
    """The buildx builder ``name`` (None: the current one); refused when it cannot push several platforms."""
    if not client.buildx:
        raise ToolError(
            f"pushing one tag for several platforms needs docker buildx; {client.path} ({client.version}) builds "
            "with its built-in BuildKit only. Install the buildx plugin (Debian: apt-get install docker-buildx; "
            "or put a docker-buildx binary in ~/.docker/cli-plugins/), then " + _CREATE_HINT)
    proc = client.run("buildx", "inspect", *([name] if name else []), check=False)
    text = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        words = proc.stderr.decode(errors="replace").strip() or text.strip()
        raise ToolError(f"no buildx builder {name or '(current)'}: {words}; `docker buildx ls` lists them; "
                        + _CREATE_HINT)

    def field(key: str) -> str:
        m = re.search(rf"^{key}:\s*(.+)$", text, re.M)
        return m.group(1).strip() if m else ""

    found = Builder(field("Name"), field("Driver"), field("Status"), field("Endpoint"))
    if found.driver == "docker":
        raise ToolError(f'buildx builder "{found.name}" uses the docker driver, whose image store holds one '
                        "platform per tag; " + _CREATE_HINT)
    if found.status and found.status != "running":
        raise ToolError(f'buildx builder "{found.name}" at {found.endpoint or "?"} is {found.status}: start '
                        "its buildkitd, or choose another builder (`docker buildx ls`)")
    return found


def _refuse_local_bases(settings: ImageSettings, opts: ImageOptions, mode: str) -> None:
    for role in needed_roles(opts.variants, mode):
        if settings.bases.get(role) == LOCAL:
            raise settings.project.error(
                f"images.bases.{role}", '"local" names an image in this engine\'s store, which a buildx builder '
                "cannot read; push the base to a registry the builder reaches and name it here")


def push_output(insecure: bool) -> list[str]:
    """The buildx arguments that send a result straight to the registry, dated at SOURCE_DATE_EPOCH."""
    output = "type=image,push=true,rewrite-timestamp=true" + (",registry.insecure=true" if insecure else "")
    # The index names the platforms and nothing else; the release's SBOMs are the supply-chain record.
    return ["--provenance=false", "--sbom=false", "--output", output]


def _argv(p: ImagePlan, client: DockerCLI, target: PushTarget, builder: Builder, variant: str,
          metadata: Path) -> list[str]:
    argv = [client.path, "buildx", "build", "--builder", builder.name, *build_args(p, variant),
            "--platform", ",".join(target.platforms), "--metadata-file", str(metadata),
            *push_output(target.insecure)]
    for tag in tags(p.settings, variant, p.stamp.version, target.repository):
        argv += ["-t", tag]
    return [*argv, str(p.settings.root)]


def _push_one(p: ImagePlan, client: DockerCLI, target: PushTarget, builder: Builder, variant: str) -> Pushed:
    start = time.monotonic()
    # Layer and config times are the commit's, so the same commit pushes the same digests.
    env = client.env({"SOURCE_DATE_EPOCH": str(epoch_of(p.stamp))})
    with tempfile.TemporaryDirectory(prefix="push-") as tmp:
        metadata = Path(tmp) / "metadata.json"
        log_path = run_logged(p, variant, _argv(p, client, target, builder, variant, metadata), env,
                              f"push-{variant}")
        digest = json.loads(metadata.read_text()).get("containerimage.digest", "")
    names = tags(p.settings, variant, p.stamp.version, target.repository)
    return Pushed(variant, tuple(names), digest, target.platforms, time.monotonic() - start, log_path)


def push(settings: ImageSettings, opts: ImageOptions, target: PushTarget,
         log: Callable[[str], None] = console.out) -> list[Pushed]:
    """Build ``opts.variants`` for every platform of ``target`` and push one index per tag."""
    mode = opts.mode or settings.mode
    _refuse_local_bases(settings, opts, mode)
    client = cli()
    builder = inspect_builder(client, target.builder)
    p = plan(settings, dataclasses.replace(opts, platforms=target.platforms), log)
    log(f"pushing {', '.join(opts.variants)} for {', '.join(target.platforms)} ({p.mode}) to {target.repository} "
        f"with buildx builder {builder.name} ({builder.driver}{', ' + builder.endpoint if builder.endpoint else ''})")
    return each_variant(p, lambda v: _push_one(p, client, target, builder, v), log)
