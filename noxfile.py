"""nox sessions of this repository: `nox -l`. Bare `nox` runs lint and the Go tests."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "go_test"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def install_project(session: nox.Session) -> None:
    """Install buildlib with its test extra: pyproject.toml is the one list of dependencies."""
    session.install("-e", ".[test]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the pytest suite (real Go, Docker, systemd): nox -s tests -- -k config."""
    install_project(session)
    session.run("pytest", *(session.posargs or ["-n", "auto"]))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check Python with ruff and Go with gofmt and go vet."""
    install_project(session)
    session.run("ruff", "check", *(session.posargs or ["."]))
    unformatted = session.run("gofmt", "-l", "cmd", "internal", "web", external=True, silent=True)
    if unformatted and unformatted.strip():
        session.error(f"gofmt would reformat:\n{unformatted}Run: gofmt -w cmd internal web")
    session.run("go", "vet", "./...", external=True)


@nox.session(python=False)
def go_test(session: nox.Session) -> None:
    """Run the Go tests: nox -s go_test -- -run TestConfig -v."""
    session.run("go", "test", *(session.posargs or ["-race", "./..."]), external=True)
