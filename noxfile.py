"""nox sessions of this repository: `nox -l`. Bare `nox` runs lint and the Go tests."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "go_test"]
nox.options.reuse_existing_virtualenvs = True

# None: the interpreter nox itself runs on, so any Python 3.11+ the user has works.
PYTHON = None


def install_project(session: nox.Session) -> None:
    """Install buildlib with its test extra: pyproject.toml is the one list of dependencies."""
    session.install("-e", ".[test]")


def run_task(session: nox.Session, name: str) -> None:
    """Run an invoke task in the session's virtualenv, passing the session's arguments to it."""
    install_project(session)
    session.run("invoke", name, *session.posargs)


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


@nox.session(python=PYTHON)
def debt(session: nox.Session) -> None:
    """Score the tech debt and fail above build.yaml's threshold: nox -s debt -- --format json."""
    run_task(session, "debt")


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Write the HTML build report from the last results: nox -s report -- --output report.html."""
    run_task(session, "report")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Measure the Go builds against go loops, Task and GoReleaser: nox -s bench -- --cases b,e,t --warm-only."""
    run_task(session, "bench")


@nox.session(python=PYTHON)
def image(session: nox.Session) -> None:
    """Build the image variants with BuildKit: nox -s image -- --variant scratch --local-bases."""
    run_task(session, "image.build")


@nox.session(python=PYTHON)
def size_check(session: nox.Session) -> None:
    """Check image sizes against build.yaml's budgets, and the policy: nox -s image size_check -- --json."""
    run_task(session, "image.check")


@nox.session(python=PYTHON)
def image_bench(session: nox.Session) -> None:
    """Measure image sizes, rebuilds, parallel builds, reproducibility, ko: nox -s image_bench -- --only ko."""
    run_task(session, "image.bench")


@nox.session(python=PYTHON)
def deploy_bench(session: nox.Session) -> None:
    """Roll a release out to 3 systemd hosts under load, per unit profile: nox -s deploy_bench -- --rate 100."""
    install_project(session)
    session.run("python", "-m", "buildlib.bench.deploy", *session.posargs)
