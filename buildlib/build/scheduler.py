"""Run a DAG of steps with at most N at once.

A step is a ``Step`` (step.py): ``name``, ``deps`` (names of steps that must
succeed first), ``run(ctx)`` and a few settings with class defaults (after,
always, light, weight). Steps do the work; the scheduler decides the order,
bounds the parallelism, times each step and wraps whatever a step raises
into a ``StepFailed`` naming the step. A failed step fails only the
steps that depend on it: independent targets still build and are reported.
Steps with ``always = True`` (recording results) run even after a failure; a
step's ``after`` names are deps that order it without passing their failure on.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ..errors import BuildlibError
from .step import Step, StepStatus


class StepFailed(BuildlibError):
    """A step failed; the message starts with the step's name."""

    def __init__(self, step: str, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        text = str(cause) if isinstance(cause, BuildlibError) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"{step}: {text}")
        self.exit_code = getattr(cause, "exit_code", 1)


class Blocked(BuildlibError):
    """Raised by a step that found a step it needed had failed: it is reported as blocked, not failed."""


@dataclass
class Outcome:
    name: str
    status: StepStatus = StepStatus.PENDING
    started: float = 0.0
    duration: float = 0.0
    value: Any = None
    error: StepFailed | None = None
    detail: str = ""                 # traceback of an unexpected exception


@dataclass
class Events:
    """What the scheduler reports while it runs (the progress display listens)."""

    started: Callable[[Step], None] = lambda step: None
    finished: Callable[[Step, Outcome], None] = lambda step, outcome: None


@dataclass
class _Graph:
    steps: dict[str, Step]
    waiting_on: dict[str, set[str]] = field(default_factory=dict)
    dependents: dict[str, list[str]] = field(default_factory=dict)


def _graph(steps: Iterable[Step]) -> _Graph:
    g = _Graph(steps={})
    for step in steps:
        if step.name in g.steps:
            raise ValueError(f"two steps are named {step.name!r}")
        g.steps[step.name] = step
    for name, step in g.steps.items():
        missing = [d for d in step.deps if d not in g.steps]
        if missing:
            raise ValueError(f"step {name!r} depends on unknown step(s) {missing}")
        g.waiting_on[name] = set(step.deps)
        for d in step.deps:
            g.dependents.setdefault(d, []).append(name)
    return g


def run(steps: Iterable[Step], ctx: Any, jobs: int, events: Events | None = None,
        cancel: threading.Event | None = None) -> dict[str, Outcome]:
    """Run ``steps`` respecting their deps, at most ``jobs`` at a time; returns every step's outcome."""
    if jobs < 1:
        raise ValueError("jobs must be >= 1")
    events = events or Events()
    cancel = cancel or threading.Event()
    g = _graph(steps)
    outcomes = {name: Outcome(name) for name in g.steps}
    ready = [n for n, w in g.waiting_on.items() if not w]
    running: dict[Future[Any], str] = {}

    def settle(name: str) -> None:
        """A step finished: release its dependents, or block them when it did not succeed."""
        for child in g.dependents.get(name, []):
            g.waiting_on[child].discard(name)
            child_step = g.steps[child]
            soft = name in child_step.after or child_step.always
            if outcomes[name].status != StepStatus.OK and not soft:
                if outcomes[child].status == StepStatus.PENDING:
                    outcomes[child].status = StepStatus.BLOCKED
                    outcomes[child].error = StepFailed(child, BuildlibError(f"not run: {name} failed"))
                    settle(child)
            elif not g.waiting_on[child] and outcomes[child].status == StepStatus.PENDING:
                ready.append(child)

    def call(step: Step) -> Any:
        outcomes[step.name].started = time.monotonic()
        events.started(step)
        return step.run(ctx)

    # A ``light`` step (a check that mostly reads files, or waits on go) takes no slot of ``jobs``, so
    # the compiles that may run beside it are not held back by it.
    light = {n for n, st in g.steps.items() if st.light}

    def heavy_running() -> int:
        return sum(1 for n in running.values() if n not in light)

    with ThreadPoolExecutor(max_workers=jobs + len(light), thread_name_prefix="step") as pool:
        try:
            while ready or running:
                # Longest work first: a step may say how much it weighs.
                ready.sort(key=lambda n: (-g.steps[n].weight, n))
                while ready:
                    pick = next((n for n in ready if n in light or heavy_running() < jobs), None)
                    if pick is None:
                        break
                    ready.remove(pick)
                    name = pick
                    if cancel.is_set() and not g.steps[name].always:
                        outcomes[name].status = StepStatus.CANCELLED
                        settle(name)
                        continue
                    outcomes[name].status = StepStatus.RUNNING
                    running[pool.submit(call, g.steps[name])] = name
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    name = running.pop(fut)
                    out = outcomes[name]
                    out.duration = time.monotonic() - out.started if out.started else 0.0
                    exc = fut.exception()
                    if exc is None:
                        out.status, out.value = StepStatus.OK, fut.result()
                    else:
                        out.status = StepStatus.BLOCKED if isinstance(exc, Blocked) else StepStatus.FAILED
                        out.error = exc if isinstance(exc, StepFailed) else StepFailed(name, exc)
                        if not isinstance(exc, BuildlibError):
                            out.detail = "".join(traceback.format_exception(exc))
                    events.finished(g.steps[name], out)
                    settle(name)
        except BaseException:
            # Ctrl-C: steps watch ``cancel`` and stop their processes; wait for them to return.
            cancel.set()
            raise
    return outcomes
