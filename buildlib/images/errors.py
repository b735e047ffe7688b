"""Errors of the image tasks; each message says what went wrong and what to do next."""

from __future__ import annotations

from ..errors import BuildlibError, SelectionError, ToolError


class UnknownVariant(SelectionError):
    """A variant name that the Dockerfile has no target for."""

    def __init__(self, name: str, valid: tuple[str, ...]) -> None:
        self.name = name
        super().__init__(f'unknown image variant "{name}"; valid variants: {", ".join(valid)}')


class NoEngine(ToolError):
    """No Docker engine answers where the client looks for one."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        super().__init__(
            f"no Docker engine answers at {where} ({detail.strip() or 'no answer'}). "
            "Start one (`sudo systemctl start docker`, or `sudo dockerd &`), or set DOCKER_HOST "
            "to an engine that runs, e.g. DOCKER_HOST=ssh://user@buildhost or tcp://buildhost:2376"
        )


class BuildStepFailed(ToolError):
    """A Dockerfile step exited non-zero; the message carries the step and its output."""

    def __init__(self, variant: str, step: str, output: str, log_path: str, hint: str = "") -> None:
        self.variant = variant
        self.step = step
        self.output = output
        super().__init__(
            f"building the {variant} image failed at step:\n  {step}\n"
            f"its output:\n{_indent(output)}\n"
            + (f"{hint}\n" if hint else "")
            + f"full log: {log_path}"
        )


class MissingBinaries(BuildlibError):
    """Prebuilt mode found no binaries for the image's platform."""


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines()) or prefix + "(no output)"
