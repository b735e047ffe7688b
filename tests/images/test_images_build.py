"""Building the variants: in-docker without network, reproducible IDs, and the errors a user meets."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.helpers.images import VARIANTS, invoke_ok, remove_tags
from tests.helpers.support import run_invoke


def _image_id(ref: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_in_docker_offline_build_matches_prebuilt(scratch_copy: Path, variants: dict, token: str,
                                                  labels: list[str]) -> None:
    """The builder stage compiles with the host's modules and no network, into the very same image."""
    repo = f"buildlib-test-{token}-indocker"
    try:
        out = invoke_ok("image.build", "--variant", "scratch", "--mode", "in-docker", "--local-bases", "--offline",
                        "--repository", repo, *labels, cwd=scratch_copy, timeout=1500)
        assert re.search(r"seeded the module cache from the host: \d+ modules", out), out
        log = (scratch_copy / ".build/images/scratch.log").read_text()
        # The layer-ordering and cache-mount chapters, as BuildKit ran them.
        titles = dict(re.findall(r"^#\d+ \[compile (\d)/\d\] (.*)$", log, re.M))

        def step(fragment: str) -> int:
            return next(int(n) for n, title in titles.items() if fragment in title)

        assert step("COPY go.mod go.sum") < step("go mod download") < step("COPY . .") < step("go build"), titles
        assert "--mount=type=cache,id=ginsvc-gomod" in log and "--mount=type=cache,id=ginsvc-gobuild" in log
        # Same source, same flags, same stamp: the compiled-in-docker image is the prebuilt one, bit for bit.
        assert _image_id(f"{repo}:scratch") == variants["scratch"]["id"]

        # A new file makes the compile step run (the one above may have come from the layer cache), and
        # it must run even when the module cache mount was emptied behind the cached download layer.
        (scratch_copy / "cmd/server/zz_extra.go").write_text(f"package main\n\nconst buildMark = \"{token}\"\n")
        invoke_ok("image.build", "--variant", "scratch", "--mode", "in-docker", "--local-bases", "--offline",
                  "--repository", repo, *labels, cwd=scratch_copy, timeout=1500)
        log = (scratch_copy / ".build/images/scratch.log").read_text()
        compile_step = re.search(r"^#(\d+) \[compile \d/\d\] RUN .*go build", log, re.M)
        assert compile_step and re.search(rf"^#{compile_step.group(1)} DONE", log, re.M), log[-3000:]
        cache = invoke_ok("image.cache", "--local-bases", cwd=scratch_copy)
        modules = re.search(r"Go module cache\s+ginsvc-gomod\s+[\d.]+ MB\s+(\d+) modules", cache)
        files = re.search(r"Go build cache\s+ginsvc-gobuild\s+[\d.]+ MB\s+(\d+) files", cache)
        assert modules and int(modules.group(1)) > 0 and files and int(files.group(1)) > 0, cache
    finally:
        remove_tags(repo)


def test_in_docker_compiles_with_the_build_recipe(scratch_copy: Path, variants: dict, token: str,
                                                  labels: list[str]) -> None:
    """The compile stage takes its flags and environment from the build's own recipe: a profile setting
    that changes the code (GOAMD64) gives the same binary in the image as `invoke build` makes."""
    config = scratch_copy / "build.yaml"
    text = config.read_text()
    release_env = "    env:\n      GOFLAGS: -buildvcs=false -mod=readonly\n  dev:"
    assert release_env in text
    config.unlink()  # a hard link to the repository's own file: write a file of the copy's own
    config.write_text(text.replace(release_env, release_env.replace("\n  dev:", "\n      GOAMD64: v3\n  dev:"), 1))
    repo = f"buildlib-test-{token}-recipe"
    try:
        common = ("image.build", "--variant", "scratch", "--local-bases", *labels)
        out = invoke_ok(*common, "--mode", "prebuilt", "--repository", f"{repo}-prebuilt", cwd=scratch_copy)
        assert re.search(r"^total: 1 built", out, re.M), out
        invoke_ok(*common, "--mode", "in-docker", "--offline", "--repository", f"{repo}-indocker",
                  cwd=scratch_copy, timeout=1500)
        prebuilt = _image_id(f"{repo}-prebuilt:scratch")
        # The setting did change the code, so equal images below mean the stage compiled with it.
        assert prebuilt != variants["scratch"]["id"]
        assert _image_id(f"{repo}-indocker:scratch") == prebuilt
    finally:
        remove_tags(f"{repo}-prebuilt")
        remove_tags(f"{repo}-indocker")


def test_the_buildx_client_builds_the_same_images(scratch_copy: Path, variants: dict, token: str,
                                                  labels: list[str], buildx_config: str) -> None:
    """With the buildx plugin a user's client has, the kit picks `docker buildx build --load` itself,
    and the three variants come out identical to those the built-in BuildKit of Debian's client made."""
    repo = f"buildlib-test-{token}-buildx"
    try:
        out = invoke_ok("image.build", "--mode", "prebuilt", "--local-bases", "--repository", repo, *labels,
                        cwd=scratch_copy, env={"DOCKER_CONFIG": buildx_config})
        assert "with docker buildx build --load" in out, out
        assert {v: _image_id(f"{repo}:{v}") for v in VARIANTS} == {v: variants[v]["id"] for v in VARIANTS}
    finally:
        remove_tags(repo)


def test_prebuilt_mode_builds_a_stale_binary_first(scratch_copy: Path, variants: dict, token: str,
                                                   labels: list[str]) -> None:
    """After an edit, one command: the kit's build makes the binary again, then the image packages it."""
    repo = f"buildlib-test-{token}-stale"
    args = ("image.build", "--variant", "scratch", "--mode", "prebuilt", "--local-bases", "--repository", repo,
            *labels)
    try:
        # The copy has bin/ but no build state: the build runs, and gives the same bytes.
        invoke_ok(*args, cwd=scratch_copy)
        assert _image_id(f"{repo}:scratch") == variants["scratch"]["id"]
        before = (scratch_copy / "bin/manifest.json").read_text()
        (scratch_copy / "cmd/server/zz_stale.go").write_text(
            f'package main\n\nimport "os"\n\nfunc init() {{ _ = os.Getenv("STALE_{token}") }}\n')
        out = invoke_ok(*args, cwd=scratch_copy)
        assert re.search(r"^total: 1 built, 0 up to date", out, re.M), out
        assert (scratch_copy / "bin/manifest.json").read_text() != before
        edited = _image_id(f"{repo}:scratch")
        assert edited != variants["scratch"]["id"]
        out = invoke_ok(*args, cwd=scratch_copy)
        assert re.search(r"^total: 0 built, 1 up to date", out, re.M), out
        assert _image_id(f"{repo}:scratch") == edited
    finally:
        remove_tags(repo)


def test_scratch_is_reproducible_from_a_clean_cache(scratch_copy: Path, variants: dict, token: str,
                                                    labels: list[str]) -> None:
    repo = f"buildlib-test-{token}-repro"
    ids = []
    try:
        for _ in range(2):
            invoke_ok("image.build", "--variant", "scratch", "--mode", "prebuilt", "--local-bases", "--no-cache",
                      "--repository", repo, *labels, cwd=scratch_copy)
            ids.append(_image_id(f"{repo}:scratch"))
        assert ids[0] == ids[1] == variants["scratch"]["id"]
        created = subprocess.run(["docker", "image", "inspect", "--format",
                                  '{{.Created}} {{index .Config.Labels "org.opencontainers.image.created"}}',
                                  f"{repo}:scratch"], capture_output=True, text=True, check=True).stdout.split()
        # The copy has no commit: the commit time falls back to the epoch, never the wall clock.
        assert created == ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]
    finally:
        remove_tags(repo)


def test_unknown_variant_lists_the_valid_ones(workspace: Path) -> None:
    proc = run_invoke("image.build", "--variant", "scratch,busybox", cwd=workspace)
    assert proc.returncode == 2
    assert 'error: unknown image variant "busybox"; valid variants: alpine, distroless, scratch' in proc.stderr


def test_no_engine_says_how_to_start_one(workspace: Path) -> None:
    proc = run_invoke("image.build", "--variant", "scratch", cwd=workspace,
                      env={"DOCKER_HOST": "unix:///nonexistent"})
    assert proc.returncode == 1
    assert "error: no Docker engine answers at unix:///nonexistent (" in proc.stderr
    assert "Start one (`sudo systemctl start docker`, or `sudo dockerd &`), or set DOCKER_HOST" in proc.stderr


def test_failing_step_is_named_with_its_output(scratch_copy: Path, local_bases: str, token: str,
                                               labels: list[str]) -> None:
    # A new file (the copy's files are hard links to the shared workspace: never edit one in place).
    (scratch_copy / "cmd/server/zz_broken.go").write_text(
        'package main\n\nimport _ "example.com/ginsvc/internal/nosuchpackage"\n')
    repo = f"buildlib-test-{token}-broken"
    proc = run_invoke("image.build", "--variant", "scratch", "--mode", "in-docker", "--local-bases", "--offline",
                      "--repository", repo, *labels, cwd=scratch_copy, timeout=900)
    remove_tags(repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert "error: building the scratch image failed at step:\n  [compile 6/6] RUN" in err
    assert "zz_broken.go" in err and "nosuchpackage" in err
    assert "\n    ERROR: " in err  # BuildKit's reason, after the step's own output
    assert "full log: .build/images/scratch.log" in err


def test_an_unreachable_registry_says_what_to_do_here(scratch_copy: Path, local_bases: str, token: str,
                                                      labels: list[str]) -> None:
    # A registry on a closed port of 127.0.0.1: nothing answers, and no traffic leaves the machine.
    text = re.sub(r"(?m)^    alpine: alpine:3\.22$", "    alpine: 127.0.0.1:1/alpine:3.22",
                  (scratch_copy / "build.yaml").read_text())
    text = text.replace("    builder: null ", "    builder: local ").replace(
        "    distroless: gcr.io/distroless/static-debian12:nonroot", "    distroless: local")
    (scratch_copy / "build.unreachable.yaml").write_text(text)
    cfg = scratch_copy / "unreachable-invoke.yaml"
    cfg.write_text(f"buildlib:\n  config: {scratch_copy / 'build.unreachable.yaml'}\n")
    repo = f"buildlib-test-{token}-unreachable"
    proc = run_invoke("-f", str(cfg), "image.build", "--variant", "alpine", "--mode", "prebuilt", "--repository",
                      repo, *labels, cwd=scratch_copy, timeout=600)
    remove_tags(repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[internal] load metadata for 127.0.0.1:1/alpine:3.22" in proc.stderr
    assert ("no registry answers for the base image 127.0.0.1:1/alpine:3.22. Where none is reachable, make local "
            "stand-ins with `invoke image.bases` and build with `--local-bases` (or set images.bases.alpine: "
            "local); or point images.bases.alpine at a mirror that has it") in proc.stderr
    assert "Traceback" not in proc.stderr
