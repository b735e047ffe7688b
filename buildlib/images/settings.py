"""The typed view of build.yaml's `images:` section (its schema: buildlib.sections.images)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import config
from .. import service as service_mod
from ..sections.images import LOCAL, VARIANTS  # noqa: F401 - LOCAL: this area's name for its users
from .errors import UnknownVariant


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
    if raw is None:  # a Project made by hand, not by config.load
        raise project.error("images", "no images section: this project was not read by config.load")
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
