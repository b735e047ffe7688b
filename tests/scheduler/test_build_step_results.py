"""Steps hand their work on by returning typed results: the checks their passes, a listing its packages
and its plans decided again, a compile what it built.

The record step stores the passes it read from those results, and the manifest and the state what the
compile returned, not fields some step wrote into a shared plan.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from buildlib import config
from buildlib.build.builder import Options, build
from buildlib.build.results import CheckPassed, CompileResult, PlatformListing
from buildlib.progress import Display

CHECKS = ("modules", "tidy", "verify", "secrets")


def test_each_step_returns_its_result_and_the_record_stores_the_passes(built_copy: Path) -> None:
    # A changed file makes the target list its inputs again; --force runs every check again.
    main = built_copy / "cmd" / "healthcheck" / "main.go"
    main.write_text(main.read_text() + "\n// changed so that its platform is listed again\n")
    project = config.load(built_copy / "build.yaml")
    before = json.loads((built_copy / ".build" / "build-state.json").read_text())["targets"]["healthcheck:linux/amd64"]
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

    # The listing decided the plan again from the new inputs: a new plan with the edited file's hash.
    (listed,) = listing.plans
    assert listed.id == "healthcheck:linux/amd64" and listed.stale and not listed.needs_list
    assert listed.key != before["key"]
    edited = str(main.relative_to(built_copy))
    assert listed.files[edited] != before["files"][edited]
    # The compile returned what it built, and that is what the state and the manifest hold.
    compiled = result.steps["compile healthcheck:linux/amd64"].value
    assert isinstance(compiled, CompileResult)
    (built,) = compiled.built
    assert built is not listed and built.key == listed.key and built.old is None
    installed = compiled.installed[built.id]
    record = state["targets"][built.id]
    assert (record["key"], record["output"]["sha256"], record["output"]["sig"]) == (
        built.key, installed.sha256, built.output_sig)
    entry = json.loads((built_copy / "bin" / "manifest.json").read_text())["targets"][built.id]
    assert (entry["sha256"], entry["size"], entry["status"]) == (installed.sha256, installed.size, "built")
    row = next(r for r in result.targets if r.target.id == built.id)
    assert (row.status, row.sha256) == ("built", installed.sha256)
    assert compiled.needed_packages == len(built.packages) > 0
    assert state["last_run"]["go_packages"]["needed"] == compiled.needed_packages
