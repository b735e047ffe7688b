"""Bad input: a compile error, no or an old Go, an untidy go.mod, unknown targets, bad --jobs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.builds import manifest, sha256
from tests.helpers.support import run_invoke


def test_compile_error_keeps_previous_binary_and_other_targets(built_copy: Path) -> None:
    before = manifest(built_copy)["targets"]
    main = built_copy / "cmd" / "server" / "main.go"
    lines = main.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("func main() {"))
    lines.insert(at + 1, "\tundefinedOnPurpose()")
    main.write_text("\n".join(lines) + "\n")
    # --force: healthcheck is compiled too, so "the other targets" really ran beside the failure.
    done = run_invoke("build", "--force", cwd=built_copy, env={"CI": "1"})
    assert done.returncode != 0
    assert f"cmd/server/main.go:{at + 2}:2: undefined: undefinedOnPurpose" in done.stderr
    assert re.search(r"go build failed for server on [a-z0-9/, ]+; the previous binaries are untouched",
                     done.stderr)
    rows = dict(re.findall(r"^(\S+:\S+)\s+(built|skipped|failed)", done.stdout, re.M))
    assert {t for t, status in rows.items() if status == "failed"} == {t for t in before if t.startswith("server:")}
    assert {t for t, status in rows.items() if status == "built"} == {t for t in before
                                                                       if t.startswith("healthcheck:")}
    after = manifest(built_copy)["targets"]
    for target, entry in before.items():
        assert sha256(built_copy / entry["path"]) == entry["sha256"], f"{target} changed"
        assert after[target]["sha256"] == entry["sha256"]
    assert {t for t, e in after.items() if e["status"] == "built"} >= {t for t in before if t.startswith("health")}
    assert not list(built_copy.glob("bin/*/.tmp-*"))


def test_no_go_on_path_says_which_version_go_mod_needs(built_tree: Path) -> None:
    done = run_invoke("build", cwd=built_tree, env={"PATH": "/usr/bin:/bin", "GOROOT": ""})
    assert done.returncode == 1
    assert re.search(r"error: no `go` on PATH; this module needs Go 1\.\d+(\.\d+)? or newer \(go\.mod's go line\)",
                     done.stderr), done.stderr


def test_too_old_go_names_the_version_go_mod_needs(built_copy: Path) -> None:
    gomod = built_copy / "go.mod"
    gomod.write_text(re.sub(r"^go \S+$", "go 1.99", gomod.read_text(), count=1, flags=re.M))
    done = run_invoke("build", cwd=built_copy, env={"GOTOOLCHAIN": "local"})
    assert done.returncode == 1
    assert re.search(r"error: go\.mod needs Go 1\.99 or newer, but `go` on PATH \(\S+\) is go1\.\d+", done.stderr), \
        done.stderr


def test_untidy_go_mod_stops_before_any_compile(built_copy: Path) -> None:
    gomod = built_copy / "go.mod"
    text = gomod.read_text()
    indirect = re.search(r"^\t(\S+ v\S+) // indirect$", text, re.M)
    assert indirect, "go.mod has no indirect requirement to disturb"
    # A dependency marked as direct that the code does not import: `go mod tidy` would change it back.
    gomod.write_text(text.replace(indirect.group(0), "\t" + indirect.group(1)))
    done = run_invoke("build", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 1
    assert "go.mod/go.sum are not tidy" in done.stderr
    assert ("Run `go mod tidy` and commit go.mod and go.sum, or set build.tidy: warn (or off) in build.yaml to "
            "build anyway.") in done.stderr
    assert "start  build" not in done.stdout + done.stderr  # nothing was compiled


@pytest.mark.parametrize(("args", "message"), [
    (["--only", "servr"], 'unknown binary "servr" (did you mean "server"?); valid binaries: healthcheck, server'),
    (["--only", "server:windows/amd64"], 'unknown platform "windows/amd64" (did you mean "linux/amd64"?); '
                                         "valid platforms: darwin/arm64, linux/amd64, linux/arm64"),
    (["--only", "plan9/386"], 'unknown platform "plan9/386"; valid platforms: darwin/arm64, linux/amd64'),
    # The rule of build.jobs, word for word (tests/foundation checks the file's side).
    (["--jobs", "0"], '--jobs "0" is not an integer from 1 to 256, or auto'),
    (["--jobs=-1"], '--jobs "-1" is not an integer from 1 to 256, or auto'),
    (["--jobs", "abc"], '--jobs "abc" is not an integer from 1 to 256, or auto'),
    (["--jobs", "100000"], '--jobs "100000" is not an integer from 1 to 256, or auto'),
    (["--jobs", ""], '--jobs "" is not an integer from 1 to 256, or auto'),
    (["--profile", "fast"], 'unknown profile "fast"; known profiles: dev, release'),
])
def test_bad_selection_is_an_error_with_the_valid_choices(built_tree: Path, args: list[str], message: str) -> None:
    before = (built_tree / "bin" / "manifest.json").read_bytes()
    done = run_invoke("build", *args, cwd=built_tree, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert (built_tree / "bin" / "manifest.json").read_bytes() == before


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def mount_on(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``mount_on(ARGS..., target)``: a real mount (the tests run as root), undone afterwards."""
    mounted: list[Path] = []

    def mount(*args: str) -> None:
        subprocess.run(["mount", *args], check=True)
        mounted.append(Path(args[-1]))

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", str(target)], check=False)


def test_a_full_disk_while_the_state_is_written_is_one_error(built_copy: Path, mount_on,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    # 64 KiB: the first platform's record fits, the whole state (70 KB) does not.
    mount_on("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(built_copy / ".build"))
    # go's own temporary files (.build/tmp) live on a disk with room: only the state write meets the full one.
    roomy = tmp_path / "go-tmp"
    roomy.mkdir()
    (built_copy / ".build" / "tmp").mkdir()
    mount_on("--bind", str(roomy), str(built_copy / ".build" / "tmp"))
    done = run_invoke("build", "--force", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert _error_lines(done.stderr) == [
        "error: cannot write .build/build-state.json or bin/manifest.json: no space left on device; free space "
        "(df -h .build bin) and run again; the binaries of this run are installed but not recorded, so the next "
        "build builds them again"]
    rows = dict(re.findall(r"^(\S+:\S+)\s+(built|skipped|failed)", done.stdout, re.M))
    assert "failed" in rows.values()
    state_file = built_copy / ".build" / "build-state.json"
    recorded = json.loads(state_file.read_text())["targets"] if state_file.exists() else {}
    # "built" only beside a target this run recorded; the others say failed.
    assert {t for t, status in rows.items() if status == "built"} == set(recorded)
    assert not list(built_copy.glob("bin/*/.tmp-*"))


def test_a_read_only_out_dir_is_refused_before_any_compile(built_copy: Path, mount_on) -> None:  # type: ignore[no-untyped-def]
    before = {p: sha256(p) for p in (built_copy / "bin").rglob("*") if p.is_file()}
    bin_dir = str(built_copy / "bin")
    mount_on("--bind", bin_dir, bin_dir)
    mount_on("-o", "remount,bind,ro", bin_dir)
    done = run_invoke("build", "--force", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ("error: cannot write bin: read-only file system; remount it read-write, or set "
                           "build.out_dir to a writable directory\n")
    assert "start  build" not in done.stdout
    assert {p: sha256(p) for p in (built_copy / "bin").rglob("*") if p.is_file()} == before


def test_a_directory_in_place_of_the_manifest_is_refused(built_copy: Path) -> None:
    (built_copy / "bin" / "manifest.json").unlink()
    (built_copy / "bin" / "manifest.json").mkdir()
    done = run_invoke("build", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ("error: bin/manifest.json is a directory, not the build's manifest file: move it away "
                           "(mv bin/manifest.json bin/manifest.json.old) and run again\n")
    assert (built_copy / "bin" / "manifest.json").is_dir()


def test_untouched_previous_binaries_are_claimed_only_when_there_were_some(built_copy: Path) -> None:
    shutil.rmtree(built_copy / "bin")
    shutil.rmtree(built_copy / ".build")
    main = built_copy / "cmd" / "server" / "main.go"
    main.write_text(main.read_text().replace("func main() {", "func main() {\n\tundefinedOnPurpose()", 1))
    done = run_invoke("build", "--only", "server:linux/amd64", cwd=built_copy, env={"CI": "1"})
    assert done.returncode == 1
    assert "error: go build failed for server on linux/amd64:\n" in done.stderr, done.stderr
    assert "untouched" not in done.stderr
