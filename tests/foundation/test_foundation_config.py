"""build.yaml validation: every kind of mistake names its line, its key and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buildlib import ConfigError, config
from tests.helpers.support import REPO, run_invoke

TEMPLATE = (REPO / "build.yaml").read_text()


def write(tree: Path, old: str, new: str) -> tuple[Path, int]:
    """Replace ``old`` with ``new``; return the file and the line of the first changed line."""
    assert old in TEMPLATE, old
    start = TEMPLATE[: TEMPLATE.index(old)].count("\n") + 1
    old_lines, new_lines = old.splitlines(), new.splitlines()
    changed = next(i for i, line in enumerate(new_lines) if i >= len(old_lines) or line != old_lines[i])
    path = tree / "build.yaml"
    path.write_text(TEMPLATE.replace(old, new, 1))
    return path, start + changed


def test_the_template_is_valid() -> None:
    project = config.load(REPO / "build.yaml")
    assert sorted(project.binaries) == ["healthcheck", "server"]
    assert project.platforms == ("linux/amd64", "linux/arm64", "darwin/arm64")
    assert project.profile().name == "release"
    assert project.profile().go_env()["CGO_ENABLED"] == "0"
    assert project.profiles["dev"].gcflags == "all=-N -l"


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        pytest.param("    main: ./cmd/server", "    mian: ./cmd/server", "binaries.server.mian",
                     'unknown key (did you mean "main"?); allowed keys: main, platforms', id="unknown-key"),
        pytest.param("  - linux/arm64", "  - linux/arm46", "platforms[1]",
                     '"linux/arm46" is not allowed (did you mean "linux/arm64"?); allowed: aix/ppc64',
                     id="unknown-platform"),
        pytest.param("    cgo: false\n    trimpath: true", "    cgo: \"no\"\n    trimpath: true",
                     "profiles.release.cgo", 'expected a boolean (true or false), got string "no"', id="wrong-type"),
        pytest.param("  jobs: auto ", "  jobs: 0 ", "build.jobs",
                     '"0" is not an integer from 1 to 256, or auto', id="jobs-zero"),
        pytest.param("  jobs: auto ", '  jobs: "many" ', "build.jobs",
                     '"many" is not an integer from 1 to 256, or auto', id="jobs-word"),
        pytest.param("  jobs: auto ", "  jobs: 100000 ", "build.jobs",
                     '"100000" is not an integer from 1 to 256, or auto', id="jobs-too-many"),
        pytest.param("  jobs: auto ", "  jobs: [2] ", "build.jobs",
                     "expected an integer from 1 to 256, or auto, got a list", id="jobs-list"),
        pytest.param("  out_dir: bin", "  out_dir: ../elsewhere", "build.out_dir",
                     '"../elsewhere" is not a relative path inside the repository', id="path-escape"),
        pytest.param("  profile: release", "  profile: prod", "build.profile",
                     '"prod" is not a profile in this file; defined profiles: dev, release', id="unknown-profile"),
        pytest.param("    main: ./cmd/server", "    main: ./cmd/svr", "binaries.server.main",
                     '"./cmd/svr" is not a directory under', id="missing-package"),
        pytest.param("  name: ginsvc", "  name: Gin_Svc", "project.name",
                     '"Gin_Svc" is not a lower-case name', id="bad-name"),
        pytest.param("      GOFLAGS: -buildvcs=false -mod=readonly\n  dev:",
                     "      GOFLAGS: -buildvcs=false -mod=readonly\n      CGO_ENABLED: \"1\"\n  dev:",
                     "profiles.release.env.CGO_ENABLED", "set cgo: true or false in the profile instead",
                     id="cgo-in-env"),
        pytest.param("  healthcheck:\n", "  server:\n", "binaries.server",
                     "duplicate key (first written on line", id="duplicate-key"),
    ],
)
def test_each_mistake_names_line_key_and_what_is_allowed(
    tree: Path, old: str, new: str, key: str, message: str
) -> None:
    path, line = write(tree, old, new)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    err = caught.value
    assert err.key == key
    assert err.line == line, str(err)
    assert message in err.problem
    assert str(err).startswith(f"{err.path}:{line}: {key}: ")


def test_missing_required_section(tree: Path) -> None:
    start = TEMPLATE.index("binaries:")
    end = TEMPLATE.index("# Every binary")
    (tree / "build.yaml").write_text(TEMPLATE[:start] + TEMPLATE[end:])
    with pytest.raises(ConfigError, match=r'build\.yaml:\d+: binaries: missing required key "binaries"'):
        config.load(tree / "build.yaml")


def test_broken_yaml_names_the_line(tree: Path) -> None:
    path, line = write(tree, "  - darwin/arm64", "  - darwin/arm64\n  oops: [")
    with pytest.raises(ConfigError, match=r"build\.yaml:\d+: not valid YAML"):
        config.load(path)


def test_invoke_shows_the_message_and_exits_non_zero(tree: Path) -> None:
    write(tree, "  - linux/arm64", "  - linux/arm46")
    result = run_invoke("--search-root", str(REPO), "info", cwd=tree)
    assert result.returncode == 2, result.stderr
    assert re.search(r"error: build\.yaml:\d+: platforms\[1\]: \"linux/arm46\" is not allowed", result.stderr)
    assert "Traceback" not in result.stderr


def test_invoke_info_describes_the_template() -> None:
    result = run_invoke("info")
    assert result.returncode == 0, result.stderr
    assert "binary    server       ./cmd/server         linux/amd64, linux/arm64, darwin/arm64" in result.stdout
    assert "profile   release (default)" in result.stdout
