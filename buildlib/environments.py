"""Environment profiles: the dev, test and prod value sets of build.yaml's ``environments:`` section.

Each environment names the build profile its binaries are made with (debug
symbols for dev, the optimised release build for test and prod) and the values
the service reads from its environment. Build, images and deploy all ask this
module, so the three agree on what "prod" means::

    environments.names(project)            -> ("dev", "test", "prod")
    environments.values(project, "prod")   -> {"LOG_LEVEL": "error", "ENABLE_CACHE": "true", ...}
    environments.build_profile(project, "prod").name -> "release"

The service accepts LOG_LEVEL in lower case; build.yaml may write it either
way (the guide's table says ERROR) and ``values()`` always emits lower case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .config import Profile, Project
from .errors import SelectionError
from .sections import environments as spec
from .sections.environments import TYPED_KEYS

SECTION = "environments"


@dataclass(frozen=True)
class Environment:
    """One environment: its build profile and the values its service runs with."""

    name: str
    profile: Profile
    values: dict[str, str]

    def env_file(self) -> str:
        """The values as an env file (systemd EnvironmentFile=, docker --env-file)."""
        lines = [f"# environment {self.name}; binaries built with profile {self.profile.name}"]
        lines += [f"{k}={v}" for k, v in self.values.items()]
        return "\n".join(lines) + "\n"

    def as_json(self) -> str:
        return json.dumps({"environment": self.name, "profile": self.profile.name, "values": self.values},
                          indent=2)


def _section(project: Project) -> dict[str, dict[str, object]]:
    section = project.extra.get(SECTION)
    if section is None:  # a Project made by hand, not by config.load
        section = spec.SECTION.make_default(SECTION, project.source)  # the defaults config.load would fill in
    return section


def _written(project: Project) -> bool:
    """Whether build.yaml has its own environments section (rather than the defaults)."""
    return SECTION in project.source.lines


def names(project: Project) -> tuple[str, ...]:
    """The environments build.yaml defines, in the order it writes them."""
    return tuple(_section(project))


def _profile_of(project: Project, name: str, raw: dict[str, object]) -> Profile:
    wanted = raw.get("profile")
    if wanted is None:
        return project.profile()
    if wanted not in project.profiles:
        if not _written(project):
            # The built-in table asks for "dev"; a build.yaml without such a
            # profile gets its default build profile instead.
            return project.profile()
        raise project.error(
            f"{SECTION}.{name}.profile",
            f'"{wanted}" is not a profile in this file; defined profiles: {", ".join(sorted(project.profiles))}',
        )
    return project.profiles[str(wanted)]


def get(project: Project, name: str) -> Environment:
    """The environment ``name``; an unknown name is a SelectionError listing the known ones."""
    section = _section(project)
    if name not in section:
        raise SelectionError(
            f'unknown environment "{name}"; known environments: {", ".join(names(project))} '
            f"(defined under {SECTION}: in {project.path.name})"
        )
    raw = section[name]
    extra: dict[str, str] = dict(raw.get("env") or {})  # type: ignore[call-overload]
    for key in TYPED_KEYS:
        if key in extra:
            raise project.error(
                f"{SECTION}.{name}.env.{key}",
                f"set {key} directly under {SECTION}.{name} instead, so there is one place that decides it",
            )
    typed = {
        "LOG_LEVEL": None if raw.get("LOG_LEVEL") is None else str(raw["LOG_LEVEL"]).lower(),
        "ENABLE_CACHE": None if raw.get("ENABLE_CACHE") is None else ("true" if raw["ENABLE_CACHE"] else "false"),
        "API_TIMEOUT_MS": None if raw.get("API_TIMEOUT_MS") is None else str(raw["API_TIMEOUT_MS"]),
    }
    values = {**{k: v for k, v in typed.items() if v is not None}, **extra}
    return Environment(name=name, profile=_profile_of(project, name, raw), values=values)


def values(project: Project, name: str) -> dict[str, str]:
    """The environment variables of ``name`` as strings, ready for an env file."""
    return dict(get(project, name).values)


def build_profile(project: Project, name: str) -> Profile:
    """The build profile the binaries of environment ``name`` are made with."""
    return get(project, name).profile


def check(project: Project) -> None:
    """Validate every environment (profile references, duplicated keys); raise the first error."""
    for name in names(project):
        get(project, name)
