"""ko, the peer `image.bench` measures the prebuilt image against: a Go binary put on a base with no Dockerfile.

ko is given the build's own recipe (flags, ldflags, environment) for the
service's main in ``.ko.yaml`` and the same base image as the kit's variant.
It reads a base named ``ko.local/...`` from the engine, so the base is tagged
under that name for the run and untagged after it. ko loads its image into
the engine (``--local``), as ``image.build`` does. Its time counts only once
the binary in its image (``/ko-app/NAME``, NAME the last element of the main
package's import path, as ko names it) is the kit's, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .. import tools
from ..build.plan import Recipe
from ..config import go_module_path
from ..errors import ToolError
from ..images.engine import cli
from .peers import recipe_env, templated_flags

CONFIG = ".ko.yaml"


class KoPeer:
    """``ko build`` of ``main`` for ``platform`` in ``root``, on ``base`` (an image in the engine)."""

    def __init__(self, binary: Path, root: Path, recipe: Recipe, main: str, name: str, platform: str, base: str,
                 repository: str, env: dict[str, str]) -> None:
        self.binary = binary
        self.root = root
        self.recipe = recipe
        self.main = main
        self.name = name
        self.platform = platform
        self.source_base = base
        self.base = "ko.local/" + base.split("/", 1)[-1] if not base.startswith("ko.local/") else base
        self.image = f"ko.local/{repository}"
        self.env = env
        module = go_module_path(root)
        rel = main.removeprefix("./").strip("/")
        self.app = posixpath.basename(f"{module}/{rel}" if rel not in ("", ".") else module)

    def config(self) -> dict[str, Any]:
        flags, ldflags = templated_flags(self.recipe)
        env = {k: v for k, v in recipe_env(self.recipe, self.platform, self.env).items()
               if k not in ("GOOS", "GOARCH")}
        return {
            "defaultBaseImage": self.base,
            "defaultPlatforms": [self.platform],
            "builds": [{
                "id": self.name,
                "main": self.main,
                "flags": flags,
                "ldflags": ldflags,
                "env": [f"{k}={v}" for k, v in sorted(env.items())],
            }],
        }

    def write(self) -> Path:
        path = self.root / CONFIG
        path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        cli().run("tag", self.source_base, self.base)
        return path

    def runner(self) -> Callable[[], None]:
        argv = [str(self.binary), "build", "--local", "--bare", "--sbom=none", "--platform", self.platform,
                self.main]
        env = {**self.env, "KO_DOCKER_REPO": self.image, "KO_CONFIG_PATH": str(self.root / CONFIG),
               "GOFLAGS": self.recipe.env(self.platform).get("GOFLAGS", "")}

        def run() -> None:
            tools.run(argv, cwd=self.root, env=env, timeout=None, merge_stderr=True, hint="the bench stopped at ko")
        return run

    def built_sha256(self) -> str:
        """The sha256 of the binary in ko's image (``/ko-app/NAME``)."""
        client = cli()
        cid = client.run("create", f"{self.image}:latest").stdout.decode().strip()
        try:
            data = client.run("cp", f"{cid}:/ko-app/{self.app}", "-").stdout
        finally:
            client.run("rm", cid, check=False)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.extractfile(self.app)
            if member is None:
                raise ToolError(f"bench: ko's image holds no /ko-app/{self.app}")
            return hashlib.sha256(member.read()).hexdigest()

    def check_identical(self, expected: str) -> None:
        got = self.built_sha256()
        if got != expected:
            raise ToolError(f"bench: ko built {self.name} for {self.platform} as {got}, the kit as {expected}: the "
                            "configurations are not equivalent, so no time is reported")

    def clean(self) -> None:
        """ko's images (it tags each with its digest too) and the base's ko.local name removed."""
        client = cli()
        refs = client.run("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                          f"reference={self.image}", check=False).stdout.decode().split()
        client.run("image", "rm", *refs, self.base, check=False)

