"""The `images:` section of build.yaml: its schema (registered at import) and a typed view of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import config
from .. import service as service_mod
from ..schema import SECTION_DEFAULTS, Bool, Field, ListOf, Nullable, OneOf, Record, Size, Str
from .errors import UnknownVariant

# The Dockerfile has one target per name; order is the order of every table.
VARIANTS: tuple[str, ...] = ("alpine", "distroless", "scratch")
MODES: tuple[str, ...] = ("in-docker", "prebuilt")
# The parts of `invoke image.bench` (here, so the task list need not import the bench).
BENCH_PARTS: tuple[str, ...] = ("sizes", "rebuild", "parallel", "repro")
# "local" in bases means: the image `invoke image.bases` makes from Debian packages.
LOCAL = "local"

_MB = 1000**2
_LINUX = tuple(p for p in config.KNOWN_PLATFORMS if p.startswith("linux/"))
_IMAGE_REF = Str(
    pattern=r"[a-z0-9][a-z0-9._/:@-]*",
    pattern_help='an image reference such as alpine:3.22, registry.example/team/go:1.26, or "local"',
)
_AUTO_OR_BOOL = OneOf((Str(choices=("auto",)), Bool()), what='true, false or "auto"')


# Where `image.push` sends the variants: a registry host (with its port) and a path.
PUSH_REPOSITORY = r"[a-z0-9][a-z0-9.-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)+"
PUSH_REPOSITORY_HELP = "a registry repository such as registry.example.com/team/app or 127.0.0.1:5000/app"
_PUSH_REPO = Str(pattern=PUSH_REPOSITORY, pattern_help=PUSH_REPOSITORY_HELP)


def _budget(image: int, overhead: int | None) -> Field:
    return Field(
        Record(
            cls=dict,
            fields={
                "max": Field(Size(), default=image),
                "overhead": Field(Nullable(Size()), default=overhead),
            },
        ),
        default=SECTION_DEFAULTS,
    )


SECTION = Field(
    Record(
        cls=dict,
        fields={
            "repository": Field(
                Nullable(Str(pattern=r"[a-z0-9][a-z0-9._/-]*", pattern_help="an image repository name")),
                default=None,
            ),
            "mode": Field(Str(choices=MODES), default="in-docker"),
            "platform": Field(Str(choices=_LINUX, what="a linux platform"), default="linux/amd64"),
            "variants": Field(ListOf(Str(choices=VARIANTS), min_len=1), factory=lambda: list(VARIANTS)),
            "dockerfile": Field(Str(), default="docker/Dockerfile"),
            "seed_modules": Field(_AUTO_OR_BOOL, default="auto"),
            "parallel": Field(_AUTO_OR_BOOL, default="auto"),
            "reproducible": Field(Bool(), default=True),
            "bases": Field(
                Record(
                    cls=dict,
                    fields={
                        "builder": Field(Nullable(_IMAGE_REF), default=None),
                        "alpine": Field(_IMAGE_REF, default="alpine:3.22"),
                        "distroless": Field(_IMAGE_REF, default="gcr.io/distroless/static-debian12:nonroot"),
                    },
                ),
                default=SECTION_DEFAULTS,
            ),
            "publish": Field(
                Record(
                    cls=dict,
                    fields={
                        "repository": Field(Nullable(_PUSH_REPO), default=None),
                        "platforms": Field(ListOf(Str(choices=_LINUX, what="a linux platform"), min_len=1),
                                           factory=lambda: ["linux/amd64", "linux/arm64"]),
                        "builder": Field(Nullable(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
                                                      pattern_help="a buildx builder name")), default=None),
                        "insecure": Field(Bool(), default=False),
                    },
                ),
                default=SECTION_DEFAULTS,
            ),
            "budgets": Field(
                Record(
                    cls=dict,
                    fields={
                        "binary": Field(Size(), default=20 * _MB),
                        "alpine": _budget(20 * _MB, 9 * _MB),
                        "distroless": _budget(20 * _MB, 3 * _MB),
                        "scratch": _budget(20 * _MB, _MB // 2),
                    },
                ),
                default=SECTION_DEFAULTS,
            ),
        },
    ),
    default=SECTION_DEFAULTS,
)

config.register_section("images", SECTION)


@dataclass(frozen=True)
class Budget:
    max: int
    overhead: int | None


@dataclass(frozen=True)
class Publish:
    """`images.publish`: one tag per variant naming every platform, pushed by `image.push`."""

    repository: str | None
    platforms: tuple[str, ...]
    builder: str | None   # None: the buildx client's current builder
    insecure: bool        # the registry speaks plain HTTP


@dataclass(frozen=True)
class ImageSettings:
    """build.yaml's `images:` with defaults applied and references checked."""

    project: config.Project
    repository: str
    mode: str
    platform: str
    variants: tuple[str, ...]
    dockerfile: Path
    service: service_mod.Service
    seed_modules: bool | str
    parallel: bool | str
    reproducible: bool
    bases: dict[str, str | None]
    publish: Publish
    binary_budget: int
    budgets: dict[str, Budget]

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def binaries(self) -> tuple[str, ...]:
        """What every variant ships in /usr/local/bin: the service and the kit's health probe."""
        return (self.service.binary, service_mod.PROBE)

    @property
    def name(self) -> str:
        return self.project.project.name

    def select(self, requested: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...]:
        """The variants asked for (names or comma lists), or build.yaml's list when none were."""
        if not requested:
            return self.variants
        names = [requested] if isinstance(requested, str) else list(requested)
        chosen: list[str] = []
        for item in names:
            for name in filter(None, (n.strip() for n in item.split(","))):
                if name not in VARIANTS:
                    raise UnknownVariant(name, VARIANTS)
                if name not in chosen:
                    chosen.append(name)
        return tuple(chosen) or self.variants


def load(project: config.Project) -> ImageSettings:
    """The typed `images:` section of ``project`` (defaults when build.yaml has none)."""
    raw = project.extra.get("images")
    if raw is None:  # a Project made before this module registered its section
        raise project.error("images", "the images section was not loaded; import buildlib.sections first")
    service = service_mod.load(project)
    dockerfile = project.root / raw["dockerfile"]
    if not dockerfile.is_file():
        raise project.error("images.dockerfile", f'"{raw["dockerfile"]}" is not a file under {project.root}')
    return ImageSettings(
        project=project,
        repository=raw["repository"] or project.project.name,
        mode=raw["mode"],
        platform=raw["platform"],
        variants=tuple(raw["variants"]),
        dockerfile=dockerfile,
        service=service,
        seed_modules=raw["seed_modules"],
        parallel=raw["parallel"],
        reproducible=raw["reproducible"],
        bases=dict(raw["bases"]),
        publish=Publish(raw["publish"]["repository"], tuple(raw["publish"]["platforms"]),
                        raw["publish"]["builder"], raw["publish"]["insecure"]),
        binary_budget=raw["budgets"]["binary"],
        budgets={v: Budget(**raw["budgets"][v]) for v in VARIANTS},
    )
