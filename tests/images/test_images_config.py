"""The images: section of build.yaml and the Dockerfile BuildKit is given."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buildlib import config
from buildlib.errors import ConfigError
from buildlib.images import build, dockerfile, settings
from tests.helpers.support import REPO


def _with_images(root: Path, images_yaml: str) -> Path:
    text = re.sub(r"(?m)^images:\n(?:[ #].*\n|\n)*", "", (REPO / "build.yaml").read_text())
    path = root / "build.test.yaml"
    path.write_text(text + images_yaml)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A tree where build.yaml's references resolve (main packages, version package, Dockerfile)."""
    for rel in ("cmd/server", "cmd/healthcheck", "internal/version", "docker"):
        (tmp_path / rel).mkdir(parents=True)
    (tmp_path / "docker/Dockerfile").write_text((REPO / "docker/Dockerfile").read_text())
    (tmp_path / "go.mod").write_text((REPO / "go.mod").read_text())
    return tmp_path


def test_defaults_are_the_registry_images(tree: Path) -> None:
    s = settings.load(config.load(_with_images(tree, "")))
    assert s.bases == {"builder": None, "alpine": "alpine:3.22",
                       "distroless": "gcr.io/distroless/static-debian12:nonroot"}
    assert s.variants == ("alpine", "distroless", "scratch") and s.mode == "in-docker"
    assert s.budgets["scratch"] == settings.Budget(max=20_000_000, overhead=500_000)
    # No builder named: the golang image of go.mod's version.
    refs = build._base_refs(s, build.ImageOptions(variants=()))
    go_line = re.search(r"^go (\S+)", (REPO / "go.mod").read_text(), re.M)
    assert go_line and refs["builder"] == f"golang:{go_line.group(1)}"


def test_unknown_variant_in_build_yaml_points_at_the_line(tree: Path) -> None:
    path = _with_images(tree, "images:\n  variants: [scratch, busybox]\n")
    with pytest.raises(ConfigError, match=r'build\.test\.yaml:\d+: images\.variants\[1\]: "busybox" is not allowed; '
                                          r"allowed: alpine, distroless, scratch"):
        config.load(path)


def test_budget_must_be_a_size(tree: Path) -> None:
    path = _with_images(tree, "images:\n  budgets:\n    scratch: {max: twenty}\n")
    with pytest.raises(ConfigError, match=r"images\.budgets\.scratch\.max: expected a size such as 20MB"):
        config.load(path)


def test_a_base_named_like_a_stage_is_refused(tree: Path) -> None:
    # BuildKit would resolve FROM image-alpine to the stage itself; dockerd 20.10 dies on the cycle.
    s = settings.load(config.load(_with_images(tree, "images:\n  bases:\n    alpine: image-alpine\n")))
    with pytest.raises(ConfigError, match=r'images\.bases\.alpine: "image-alpine" is also the name of a Dockerfile '
                                          "stage"):
        build._base_refs(s, build.ImageOptions(variants=("alpine",)))


def test_cache_ids_are_written_out_per_project(tree: Path) -> None:
    s = settings.load(config.load(_with_images(tree, "")))
    text = dockerfile.render(s.dockerfile, tree, "ginsvc").read_text()
    assert "${PROJECT}-" not in text
    assert set(re.findall(r"id=([\w-]+)", text)) == {"ginsvc-gomod", "ginsvc-gobuild"}
    bare = dockerfile.render(s.dockerfile, tree, "ginsvc", cache_mounts=False).read_text()
    assert "type=cache" not in bare and "--mount=type=bind,from=modseed" in bare
    assert bare.count("\nRUN ") == text.count("\nRUN ")


def test_publish_defaults_and_errors_point_at_the_line(tree: Path) -> None:
    s = settings.load(config.load(_with_images(tree, "")))
    assert s.publish == settings.Publish(None, ("linux/amd64", "linux/arm64"), None, False)
    s = settings.load(config.load(_with_images(tree, "images:\n  publish:\n    repository: 127.0.0.1:5000/team/app\n"
                                                     "    platforms: [linux/arm64, linux/amd64]\n")))
    assert s.publish.repository == "127.0.0.1:5000/team/app"
    assert s.publish.platforms == ("linux/arm64", "linux/amd64")
    for body, message in [
        ("    platforms: []\n", r"images\.publish\.platforms: .*at least 1"),
        ("    platforms: [linux/arm64, linux/arm64]\n",
         r"images\.publish\.platforms\[1\]: 'linux/arm64' is listed twice"),
        ("    platforms: [windows/amd64]\n", r'images\.publish\.platforms\[0\]: "windows/amd64" is not allowed'),
        ("    repository: app\n", r"images\.publish\.repository: .*registry repository such as"),
        ("    repository: Registry.Example/App\n", r"images\.publish\.repository: .*registry repository such as"),
        ("    insecure: maybe\n", r"images\.publish\.insecure"),
    ]:
        with pytest.raises(ConfigError, match=r"build\.test\.yaml:\d+: " + message):
            config.load(_with_images(tree, "images:\n  publish:\n" + body))
