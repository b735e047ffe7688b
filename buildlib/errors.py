"""Typed errors: each one says where the problem is and what to do about it."""

from __future__ import annotations


class BuildlibError(Exception):
    """Base of every error this package raises on purpose.

    Tasks turn it into ``invoke.Exit`` with the message and a non-zero code,
    so the user reads a sentence, not a traceback.
    """

    exit_code = 1


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


class ToolError(BuildlibError):
    """An external tool (go, docker, ...) is missing, too old or failed."""


class SelectionError(BuildlibError):
    """The user asked for a target, platform or profile that does not exist."""

    exit_code = 2


class OutputError(BuildlibError):
    """An output (a binary, bin/manifest.json, the build state) cannot be written: the machine, not the project."""
