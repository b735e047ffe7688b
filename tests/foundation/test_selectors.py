"""An empty selection is an input error: only the absence of a flag means "all" (or the default).

Each case used to run on everything: `invoke deploy --hosts ''` rolled out to
every host, `invoke build --only ,` built the whole matrix. The checks run
before anything is loaded from the network or built, so a tree with only
build.yaml and the package directories is enough (and safe: deploys are dry).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.support import REPO, run_invoke

HOSTS = "valid: web1, web2, web3, web (group); leave --hosts out for every host"
TARGETS = "valid: healthcheck, server, darwin/arm64, linux/amd64, linux/arm64; leave --only out for every target"


@pytest.mark.parametrize(("args", "message"), [
    (["build", "--only", ","], f"--only ,: an empty value selects nothing; {TARGETS}"),
    (["build", "--only", " "], f"--only ' ': an empty value selects nothing; {TARGETS}"),
    (["build", "--only", "server,"], f"--only server,: an empty item selects nothing; {TARGETS}"),
    (["build", "--profile", ""], "--profile '': an empty value selects nothing; valid: dev, release; "
                                 "leave --profile out for build.profile (release)"),
    (["build", "--version", ""], "--version is empty; give a value or leave it out for build.yaml's "
                                 "project.version"),
    (["bench", "--cases", ""], "--cases '': an empty value selects nothing; valid: a, b, c, d, e, t, g; "
                               "leave --cases out for every case"),
    (["bench", "--platforms", "linux/arm,"], "--platforms linux/arm,: an empty item selects nothing; valid: "
                                             "aix/ppc64, "),
    (["bench", "--platforms", "linux/arm,linux/amd46"], "--platforms: unknown platform(s) linux/amd46; `go tool "
                                                        "dist list` gives the valid GOOS/GOARCH pairs"),
    (["deploy", "--dry-run", "--hosts", ""], f"--hosts '': an empty value selects nothing; {HOSTS}"),
    (["deploy", "--dry-run", "--hosts", "web1,,web2"], f"--hosts web1,,web2: an empty item selects nothing; {HOSTS}"),
    (["deploy", "--dry-run", "--env", " "], "--env ' ': an empty value selects nothing; valid: dev, prod, test; "
                                            "leave --env out for deploy.environment (prod)"),
    (["deploy", "--dry-run", "--profile", ""], "--profile '': an empty value selects nothing; valid: strict, "
                                               "hardened; leave --profile out for deploy.profile (strict)"),
    (["deploy.status", "--hosts", ","], f"--hosts ,: an empty value selects nothing; {HOSTS}"),
    (["deploy.rollback", "--dry-run", "--hosts", ""], f"--hosts '': an empty value selects nothing; {HOSTS}"),
    (["deploy.render", "--env", ""], "--env '': an empty value selects nothing; valid: dev, prod, test"),
    (["deploy.check", "--env", ""], "--env '': an empty value selects nothing; valid: dev, prod, test"),
    (["image.build", "--variant", ""], "--variant '': an empty value selects nothing; valid: alpine, distroless, "
                                       "scratch; leave --variant out for images.variants"),
    (["image.build", "--variant", "alpine", "--variant", ","], "--variant ,: an empty value selects nothing"),
    (["image.check", "--variant", "scratch,"], "--variant scratch,: an empty item selects nothing"),
    (["image.smoke", "--variant", ""], "--variant '': an empty value selects nothing"),
    (["image.bench", "--only", ""], "--only '': an empty value selects nothing; valid: "),
    (["image.push", "--platform", "linux/amd64,"], "--platform linux/amd64,: an empty item selects nothing; valid: "
                                                   "linux/386, linux/amd64, linux/arm, linux/arm64"),
    (["image.push", "--variant", ""], "--variant '': an empty value selects nothing"),
    (["image.push", "--repository", ""], "--repository is empty; give a value or leave it out for "
                                         "images.publish.repository"),
    (["image.bases", "--push", ""], "--push is empty; give a value or leave it out for importing into the engine"),
    (["image.bases", "--platform", "linux/arm64"], "--platform, --builder and --insecure belong to --push PREFIX"),
    (["env", "--profile", ""], "--profile '': an empty value selects nothing; valid: dev, test, prod; "
                               "leave --profile out for a table of every environment"),
    (["cache.key", "--platform", ""], "--platform '': an empty value selects nothing; valid: darwin/arm64, "
                                      "linux/amd64, linux/arm64; leave --platform out for one line per platform"),
    # Free-form flags whose absence means a default: blank is no default either.
    (["report", "--output", ""], "--output is empty; give a value or leave it out for .build/report.html"),
    (["debt", "--output", " "], "--output is empty; give a value or leave it out for only .build/debt.json"),
    (["deploy", "--dry-run", "--batch", ""], '--batch "" is not a whole number of hosts >= 1'),
    (["init", "--module", "example.com/x", "--name", "", "--dest", "elsewhere"],
     "--name is empty; give a value or leave it out for the module path's last element"),
])
def test_an_empty_selector_is_an_error_naming_the_flag(tree: Path, args: list[str], message: str) -> None:
    done = run_invoke("--search-root", str(REPO), *args, cwd=tree, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: {message}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tree / "bin").exists() and not (tree / ".build").exists()
