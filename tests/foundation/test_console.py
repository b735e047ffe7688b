"""The one console: which stream each kind of line takes, whole lines from threads, and the build's
display on a real terminal (a pty) against CI's plain lines."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from buildlib import console
from buildlib.build.scheduler import Outcome
from buildlib.build.step import Step, StepStatus
from buildlib.progress import Display
from tests.helpers.builds import copy_sources

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _terminal() -> tuple[int, int]:
    """A pty, 120 columns wide: (the end a program writes to, the end the test reads)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return slave, master


def _read_all(master: int, done: threading.Event | None = None, timeout: float = 300) -> str:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if not ready:
            if done is not None and done.is_set():
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def run_on_terminal(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    slave, master = _terminal()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        text = _read_all(master)
        return proc.wait(timeout=60), text
    finally:
        os.close(master)


def _user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONDONTWRITEBYTECODE")}
    return {**env, "TERM": "xterm-256color", **extra}


class _Step(Step):
    def __init__(self, name: str, silent: bool = False) -> None:
        self.name = name
        self.silent = silent


def _ok(step: Step, duration: float = 0.3) -> Outcome:
    out = Outcome(name=step.name)
    out.status, out.duration = StepStatus.OK, duration
    return out


def test_results_go_to_stdout_and_progress_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    console.out("a result")
    console.err("a step of a long run")
    console.table(["target", "size"], [["server", "12 MiB"], ["healthcheck", "2 MiB"]], right={1})
    console.json({"ok": True})
    console.out("a document\n", end="")
    got = capsys.readouterr()
    assert got.out == ("a result\n"
                       "target         size\n"
                       "-----------  ------\n"
                       "server       12 MiB\n"
                       "healthcheck   2 MiB\n"
                       '{\n  "ok": true\n}\n'
                       "a document\n")
    assert got.err == "a step of a long run\n"


def test_host_lines_stay_whole_when_hosts_print_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    def host(n: int) -> None:
        for i in range(200):
            console.host(f"web{n}", f"line {i}\nsecond part {i}")

    threads = [threading.Thread(target=host, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 * 200 * 2
    assert all(re.fullmatch(r"\[web\d\] (line|second part) \d+", line) for line in lines), \
        [line for line in lines if not re.fullmatch(r"\[web\d\] (line|second part) \d+", line)][:3]
    for n in range(8):  # each host's own lines keep their order, each pair together
        mine = [line for line in lines if line.startswith(f"[web{n}]")]
        assert mine[:4] == [f"[web{n}] line 0", f"[web{n}] second part 0", f"[web{n}] line 1",
                            f"[web{n}] second part 1"]


def test_a_log_shows_each_start_and_end_with_a_timestamp_and_hides_silent_steps_that_pass() -> None:
    import io

    stream = io.StringIO()
    display = Display(stream=stream, live=False)
    compile_, record = _Step("build linux/amd64"), _Step("record", silent=True)
    display.started(compile_)
    display.started(record)
    display.finished(record, _ok(record))
    display.message("waiting for the lock on bin/")
    display.finished(compile_, _ok(compile_, 1.25))
    display.close()
    lines = stream.getvalue().splitlines()
    assert [re.sub(r"^\[ *\d+\.\ds\] ", "[t] ", line) for line in lines] == [
        "[t] start  build linux/amd64", "waiting for the lock on bin/", "[t] done   build linux/amd64 (1.2s)"]
    assert "\x1b[" not in stream.getvalue()


def test_on_a_terminal_running_steps_are_redrawn_and_other_lines_go_above_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    slave, master = _terminal()
    term = os.fdopen(slave, "w", buffering=1, encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", term)  # what the console prints as a task's result
    done = threading.Event()
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.append(_read_all(master, done, timeout=30)))
    reader.start()
    try:
        display = Display(stream=term, live=True)
        step = _Step("build linux/arm64")
        display.started(step)
        time.sleep(0.35)
        console.out("a line from elsewhere in the task")
        time.sleep(0.25)
        display.finished(step, _ok(step))
        display.close()
        term.flush()
        console.out("after the display")
    finally:
        time.sleep(0.2)
        done.set()
        reader.join()
        term.close()
        os.close(master)
    text = seen[0]
    frames = re.findall(rf"[{SPINNER}] build linux/arm64 +(\d+\.\d)s", text)
    assert len(frames) >= 3, text
    assert float(frames[-1]) >= 0.5
    middle = text.index("a line from elsewhere in the task")
    # Drawn again under the line printed above it, and erased when the display closed.
    assert re.search(rf"[{SPINNER}] build linux/arm64", text[middle:])
    assert "\x1b[2K" in text and text.endswith("after the display\r\n"), repr(text[-200:])
    assert "\x1b[?25l" in text and "\x1b[?25h" in text  # the cursor is hidden while drawing, then shown


@pytest.mark.slow
def test_a_build_on_a_terminal_draws_live_lines_and_a_no_op_loads_no_terminal_library(tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "repo")
    argv = [sys.executable, "-X", "importtime", "-m", "invoke", "build", "--only", "server:linux/amd64"]
    code, first = run_on_terminal([*argv, "--force"], tree, _user_env())
    assert code == 0, first
    assert re.search(rf"[{SPINNER}] build linux/amd64: server +\d+\.\ds", first), first[-3000:]
    assert "| rich.live" in first            # the live display is rich's, loaded once a step ran
    assert "start  build" not in first        # no plain log lines on a terminal
    assert re.search(r"server:linux/amd64 +built", first)

    code, again = run_on_terminal(argv, tree, _user_env())
    assert code == 0, again
    assert re.search(r"server:linux/amd64 +skipped", again), again[-2000:]
    assert "total: 0 built, 1 up to date" in again
    assert "rich" not in again               # a no-op runs no step: nothing of rich is imported
    assert SPINNER[0] not in again


@pytest.mark.slow
def test_the_same_build_in_ci_prints_plain_lines_even_on_a_terminal(tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "repo")
    code, text = run_on_terminal([sys.executable, "-m", "invoke", "build", "--force", "--only",
                                  "server:linux/amd64"], tree, _user_env(CI="true"))
    assert code == 0, text
    assert "\x1b[" not in text
    assert re.search(r"\[ *\d+\.\ds\] start  build linux/amd64: server", text), text
    assert re.search(r"\[ *\d+\.\ds\] done   build linux/amd64: server \(\d+\.\ds\)", text), text
    assert json.loads((tree / "bin" / "manifest.json").read_text())["targets"]["server:linux/amd64"]["status"] \
        == "built"
