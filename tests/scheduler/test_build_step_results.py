"""Steps hand their work on by returning typed results: the checks their passes, a listing its packages.

The record step stores the passes it read from those results, not from a
field some step wrote.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from buildlib import config
from buildlib.build.builder import Options, build
from buildlib.build.results import CheckPassed, PlatformListing
from buildlib.progress import Display

CHECKS = ("modules", "tidy", "verify", "secrets")


def test_each_step_returns_its_result_and_the_record_stores_the_passes(built_copy: Path) -> None:
    # A changed file makes the target list its inputs again; --force runs every check again.
    main = built_copy / "cmd" / "healthcheck" / "main.go"
    main.write_text(main.read_text() + "\n// changed so that its platform is listed again\n")
    project = config.load(built_copy / "build.yaml")
    result = build(project, Options(only="healthcheck:linux/amd64", force=True),
                   Display(stream=io.StringIO(), live=False))
    assert result.ok, result.errors

    listing = result.steps["list linux/amd64"].value
    assert isinstance(listing, PlatformListing)
    assert (listing.platform, listing.mains) == ("linux/amd64", frozenset({"./cmd/healthcheck"}))
    assert any(p.get("Dir") == str(main.parent) for p in listing.packages)

    passes = {name: result.steps[name].value for name in CHECKS}
    for name, passed in passes.items():
        assert isinstance(passed, CheckPassed), (name, passed)
        assert passed.name == name and len(passed.key) == 64
    state = json.loads((built_copy / ".build" / "build-state.json").read_text())
    assert {name: state["checks"][name] for name in CHECKS} == {n: p.key for n, p in passes.items()}
