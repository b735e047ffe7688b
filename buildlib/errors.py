"""The kit's errors: a few kinds, each saying where the problem is and what to do about it.

Every task converts them in one place (``tasks.common.task``): the user reads
``error: <message>`` and the process exits with the kind's code, never with a
traceback. The codes follow the shell's convention: 2 when what the user gave
(a flag, build.yaml, a secret, a key, a tag) cannot be used, 1 when a tool, a
check or a run failed, 128 + the signal when stopped by one.

An area defines its own subclass only when it carries data that a caller reads
(``CompileError.diagnostics``, ``RemoteError.host``) or is caught on its own.
"""

from __future__ import annotations

import signal


class BuildlibError(Exception):
    """Base of every error the kit raises on purpose; ``hint`` says what to do, after the problem."""

    exit_code = 1

    def __init__(self, message: str = "", *, hint: str = "") -> None:
        self.hint = hint
        # After quoted output (several lines), the hint is a line of its own.
        joint = "\n" if "\n" in message else "; "
        super().__init__(f"{message}{joint}{hint}" if message and hint else message or hint)


class ConfigError(BuildlibError):
    """A value in build.yaml (or another config file) is wrong."""

    exit_code = 2

    def __init__(self, path: str, line: int | None, key: str, problem: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


class SelectionError(BuildlibError):
    """A flag asks for something that does not exist (a target, platform, profile, case) or is blank."""

    exit_code = 2


class InputError(BuildlibError):
    """Something the task reads is missing or unusable: a secrets file, the manifest of the build to
    deploy, the release tag, a signing key, a folder holding files the task did not write."""

    exit_code = 2


class ToolError(BuildlibError):
    """An external tool (go, docker, buildx, ssh-keygen...) is missing, too old or failed."""


class CheckFailed(BuildlibError):
    """A check ran and the project falls short of its rule (tidy modules, a size budget, an image
    policy, a smoke test, the debt threshold, a rendered unit); the message lists what failed."""


class RunFailed(BuildlibError):
    """A run stopped part-way (a build target, a rollout or rollback at a host, the build of a
    release); what it did and what failed was printed before this message."""


class OutputError(BuildlibError):
    """An output (a binary, bin/manifest.json, the build state) cannot be written: the machine, not the project."""


class Interrupted(BuildlibError):
    """SIGINT or SIGTERM stopped the run; the exit status is 128 + the signal, as a shell reports it."""

    def __init__(self, signum: int = signal.SIGINT, message: str = "") -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(message or f"stopped by {signal.Signals(signum).name}")
