"""Bad input: a compile error, no or an old Go, an untidy go.mod, unknown targets, bad --jobs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from buildtest_helpers import manifest, sha256
from support import run_invoke


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
    assert "Run `go mod tidy` and commit go.mod and go.sum." in done.stderr
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
