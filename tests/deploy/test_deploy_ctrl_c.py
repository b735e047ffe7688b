"""Ctrl-C during a rollout is a request to stop between steps, never an exception at a random bytecode."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from buildlib.deploy import fleet


def test_sigint_inside_sets_the_flag_and_raises_nothing() -> None:
    stop = fleet.Stop()
    with fleet.ctrl_c_stops(stop):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs in this (the main) thread at its next bytecode
        assert stop.is_set()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


def test_a_step_in_progress_runs_to_its_end(capsys: pytest.CaptureFixture[str]) -> None:
    stop = fleet.Stop()
    started, finished = threading.Event(), []

    def step(name: str) -> str:
        started.set()
        time.sleep(0.5)
        finished.append(name)
        return name

    # SIGINT as soon as the host's thread runs, while the main thread may still be inside submit().
    threading.Thread(target=lambda: (started.wait(5), os.kill(os.getpid(), signal.SIGINT)), daemon=True).start()
    with fleet.ctrl_c_stops(stop):
        futures = fleet.run_parallel(["web1", "web2"], step, stop)
    assert sorted(finished) == ["web1", "web2"]  # run_parallel returned only after both ended
    assert [f.result() for f in futures] == ["web1", "web2"]
    assert stop.is_set()
    out = capsys.readouterr().out
    assert out.count("interrupted: finishing the step in progress on each host") == 1
