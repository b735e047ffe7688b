"""The one way to run a tool (buildlib.tools), the build's reaped runner that words its failures alike
(buildlib.procs), and the Go runner that carries the project's environment (buildlib.gotool.run):
real commands, real failures, the exact messages a user reads."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from buildlib import config, gotool, procs, tools
from buildlib.errors import ToolError
from buildlib.images import modseed
from tests.helpers.builds import copy_sources
from tests.helpers.support import run_invoke


def test_a_failing_tool_is_named_with_its_status_its_last_words_and_the_hint() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run(["/bin/sh", "-c", "echo to-stdout; echo first >&2; echo why-it-failed >&2; exit 3"],
                  hint="fix the thing, then run again")
    assert str(caught.value) == (
        "`sh -c 'echo to-stdout; echo first >&2; echo why-it-failed >&2; exit 3'` failed with exit status 3:\n"
        "first\nwhy-it-failed\nfix the thing, then run again")
    assert caught.value.hint == "fix the thing, then run again"
    assert caught.value.exit_code == 1


def test_only_the_last_lines_are_quoted_and_stdout_stands_in_for_an_empty_stderr() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run(["/bin/sh", "-c", "for i in $(seq 1 50); do echo line-$i; done; exit 1"])
    message = str(caught.value)
    quoted = message.split(":\n", 1)[1].splitlines()
    assert quoted == [f"line-{i}" for i in range(31, 51)], message
    assert message.endswith("line-50")  # no hint given: nothing after the output


def test_a_missing_tool_says_so_and_how_to_get_it() -> None:
    with pytest.raises(ToolError) as caught:
        tools.run(["no-such-tool-here", "--version"], hint="install it with `apt-get install no-such-tool`")
    assert str(caught.value) == ("`no-such-tool-here` is not installed or not on PATH; "
                                 "install it with `apt-get install no-such-tool`")
    with pytest.raises(ToolError, match=r"^`no-such-tool-here` is not installed or not on PATH; install it, or "
                                        r"put it on PATH$"):
        tools.run(["no-such-tool-here"])
    with pytest.raises(ToolError, match=r"^`no-such-tool-here` is not installed or not on PATH; apt-get it$"):
        tools.which("no-such-tool-here", hint="apt-get it")
    assert tools.which("sh", hint="") == shutil.which("sh")


def test_which_also_looks_in_the_folders_it_is_given(tmp_path: Path) -> None:
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    (sbin / "kit-only-in-sbin").write_text("#!/bin/sh\n")
    with pytest.raises(ToolError, match=r"^`kit-only-in-sbin` is not installed or not on PATH; get it$"):
        tools.which("kit-only-in-sbin", hint="get it", also=[str(sbin)])  # not executable: not a tool
    (sbin / "kit-only-in-sbin").chmod(0o755)
    assert tools.which("kit-only-in-sbin", hint="get it", also=[str(sbin)]) == str(sbin / "kit-only-in-sbin")


def test_a_tool_past_its_time_is_stopped_and_named(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"^`sleep 30` did not finish within 0.5 s; it was stopped; is it waiting "
                                        r"for input\?$"):
        tools.run(["sleep", "30"], timeout=0.5, hint="is it waiting for input?")
    assert time.monotonic() - started < 5


def test_check_false_hands_the_status_back_and_check_true_is_the_default() -> None:
    done = tools.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 5"], check=False)
    assert (done.returncode, done.stdout, done.stderr) == (5, "out\n", "err\n")
    merged = tools.run(["/bin/sh", "-c", "echo out; echo err >&2"], merge_stderr=True)
    assert merged.stdout == "out\nerr\n"
    raw = tools.run(["printf", "\\377"], text=False)
    assert raw.stdout == b"\xff"
    # No terminal input: a tool that reads standard input sees its end at once instead of waiting.
    assert tools.run(["cat"], timeout=10).stdout == ""
    assert tools.run(["cat"], input="given\n").stdout == "given\n"
    with pytest.raises(ToolError, match="exit status 1"):
        tools.run(["false"])


def test_a_long_command_is_cut_in_the_message() -> None:
    words = [f"argument-number-{i}" for i in range(40)]
    with pytest.raises(ToolError) as caught:
        tools.run(["/bin/sh", "-c", "exit 2", *words])
    command = re.match(r"^`(.*)` failed with exit status 2$", str(caught.value))
    assert command, str(caught.value)
    assert len(command.group(1)) == tools._COMMAND_CHARS and command.group(1).endswith("...")


def test_feed_streams_standard_input_and_words_a_failure_like_run() -> None:
    chunk = b"x" * (1 << 20)

    def write(pipe) -> None:  # type: ignore[no-untyped-def]
        for _ in range(12):
            pipe.write(chunk)

    done = tools.feed(["wc", "-c"], write)
    assert done.stdout.decode().strip() == str(12 << 20)
    # The tool stops reading after one byte and fails: the broken pipe is not the error, its words are.
    with pytest.raises(ToolError) as caught:
        tools.feed(["/bin/sh", "-c", "head -c 1 >/dev/null; echo rejected-the-stream >&2; exit 4"], write,
                   hint="the image was not made")
    assert str(caught.value) == ("`sh -c 'head -c 1 >/dev/null; echo rejected-the-stream >&2; exit 4'` failed with "
                                 "exit status 4:\nrejected-the-stream\nthe image was not made")


def test_the_reaped_runner_words_its_failures_as_tools_does(tmp_path: Path) -> None:
    env = dict(os.environ)
    argv = ["/bin/sh", "-c", "echo nope >&2; exit 2"]
    done = procs.run(argv, tmp_path, env, go_tmp=False)
    assert done.returncode == 2  # not checked unless asked
    with pytest.raises(ToolError) as reaped:
        procs.run(argv, tmp_path, env, go_tmp=False, check=True, hint="do this")
    with pytest.raises(ToolError) as plain:
        tools.run(argv, hint="do this")
    assert str(reaped.value) == str(plain.value) == ("`sh -c 'echo nope >&2; exit 2'` failed with exit status 2:\n"
                                                     "nope\ndo this")
    with pytest.raises(ToolError, match=r"^`sleep 30` did not finish within 0.3 s; it was stopped$"):
        procs.run(["sleep", "30"], tmp_path, env, go_tmp=False, timeout=0.3)


def test_the_go_runner_carries_build_yaml_s_cache_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOMODCACHE", raising=False)  # the environment would win over build.yaml
    tree = copy_sources(tmp_path / "tree")
    text = (tree / "build.yaml").read_text()
    assert "gomodcache:" in text, "build.yaml has no cache.gomodcache key to set"
    (tree / "build.yaml").write_text(re.sub(r"(?m)^(\s+gomodcache:).*$", r"\1 .modcache-of-this-project", text))
    project = config.load(tree / config.CONFIG_NAME)
    env = {**gotool.project_env(project), "GOPROXY": "off"}  # nothing is fetched
    done = gotool.run(tree, "env", "GOMODCACHE", env=env, check=True)
    assert done.stdout.strip() == str((tree / ".modcache-of-this-project").resolve())
    with pytest.raises(ToolError) as caught:
        gotool.run(tree, "list", "./no-such-package", env=env, check=True, hint="the hint")
    assert re.match(r"^`go list ./no-such-package` failed with exit status 1:\n.*no-such-package.*\nthe hint$",
                    str(caught.value), re.S), str(caught.value)


def test_the_image_seed_reads_the_module_cache_the_build_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """modseed read Go's default module cache whatever build.yaml said; it now reads the project's own, so
    an empty one is reported as lacking the modules, with what to do."""
    tree = copy_sources(tmp_path / "tree")
    text = (tree / "build.yaml").read_text()
    (tree / "build.yaml").write_text(re.sub(r"(?m)^(\s+gomodcache:).*$", r"\1 .empty-modcache", text))
    monkeypatch.delenv("GOMODCACHE", raising=False)
    project = config.load(tree / config.CONFIG_NAME)
    with pytest.raises(ToolError) as caught:
        modseed.seed(project)
    message = str(caught.value)
    assert message.startswith("`go mod graph` failed with exit status 1:\n"), message
    assert message.endswith("the host's module cache lacks modules this build needs, so it cannot seed the image "
                            "build: run `go mod download` on the host (with network) first, or build without "
                            "seeding (images.seed_modules: false)"), message


def test_a_task_whose_tool_is_missing_prints_an_error_line_and_no_traceback(tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "tree")
    bare = tmp_path / "bin"
    bare.mkdir()
    for name in ("sh", "git"):  # what a task may start besides the missing tool
        if shutil.which(name):
            os.symlink(shutil.which(name), bare / name)  # type: ignore[arg-type]
    done = run_invoke("monitor.check", cwd=tree, env={"PATH": str(bare)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: `promtool` is not installed or not on PATH; install it with `apt-get install prometheus` "
        "(Debian's package carries promtool)"), done.stderr
    assert "Traceback" not in done.stderr
