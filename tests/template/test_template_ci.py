"""The users' CI workflow (.github/workflows/ci.yml) names only tasks and sessions that exist.

Names are compared with what this checkout really offers: `invoke --list
--list-format json` (plus `invoke --complete`, which also names the tasks of a
collection added under a name of its own, where the JSON says null) and
`nox -l`, run as subprocesses; the flags each step passes are checked against
`invoke --help TASK`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from buildlib import config
from tests.helpers.support import REPO, run_invoke

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def load_workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def run_lines(job: dict[str, Any]) -> list[str]:
    lines = []
    for step in job.get("steps", []):
        lines += [line.strip() for line in step.get("run", "").splitlines() if line.strip()]
    return lines


def invoke_calls(line: str) -> list[tuple[str, list[str]]]:
    """(task, flags) for every `invoke TASK --flag ...` in a shell line, including inside $(...)."""
    calls = []
    for m in re.finditer(r"\binvoke\s+([^;|&)]*)", line):
        words = shlex.split(m.group(1).replace("$(", " "))
        task, flags = None, []
        for w in words:
            if task is None and not w.startswith("-"):
                task = w
            elif w.startswith("--"):
                flags.append(w.split("=", 1)[0])
        assert task is not None, line
        calls.append((task, flags))
    return calls


def nox_sessions(line: str) -> list[str]:
    found = []
    for m in re.finditer(r"\bnox\s+([^;|&]*)", line):
        words = shlex.split(m.group(1))
        if "--" in words:
            words = words[: words.index("--")]
        for i, w in enumerate(words):
            if w in ("-s", "--session", "--sessions"):
                found += [s for s in words[i + 1:] if not s.startswith("-")]
                break
    return found


def all_uses() -> list[tuple[str, list[str], str]]:
    out = []
    for name, job in load_workflow()["jobs"].items():
        for line in run_lines(job):
            out += [(task, flags, name) for task, flags in invoke_calls(line)]
    return out


@pytest.fixture(scope="module")
def real_tasks() -> set[str]:
    listed = run_invoke("--list", "--list-format", "json")
    assert listed.returncode == 0, listed.stderr

    def walk(node: dict[str, Any], prefix: str) -> set[str]:
        names = set()
        for t in node["tasks"]:
            names.add(prefix + t["name"])
            names |= {prefix + a for a in t["aliases"]}
        for sub in node["collections"]:
            if sub["name"]:
                names |= walk(sub, f"{prefix}{sub['name']}.")
        return names

    names = walk(json.loads(listed.stdout), "")
    completed = run_invoke("--complete", "--", "invoke")
    assert completed.returncode == 0, completed.stderr
    return names | {line.strip() for line in completed.stdout.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def real_sessions() -> set[str]:
    result = subprocess.run([sys.executable, "-m", "nox", "-l"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    names = set(re.findall(r"^[*-] ([A-Za-z0-9_.\-]+)", result.stdout, re.M))
    assert "tests" in names, result.stdout
    return names


def test_the_workflow_has_the_parallel_jobs() -> None:
    jobs = load_workflow()["jobs"]
    assert {"lint", "go-test", "build", "images", "debt"} <= set(jobs)
    # lint, go test, images and debt wait for nothing, build only for the plan: they run side by side.
    for name in ("lint", "go-test", "images", "debt"):
        assert "needs" not in jobs[name], name
    assert jobs["build"]["needs"] == "plan"
    assert jobs["build"]["strategy"]["matrix"]["platform"] == "${{ fromJSON(needs.plan.outputs.platforms) }}"
    assert set(jobs["report"]["needs"]) == {"build", "images", "debt"}
    assert any("nox -s lint" in line for line in run_lines(jobs["lint"]))
    assert any("nox -s go_test" in line for line in run_lines(jobs["go-test"]))
    assert any("nox -s size_check" in line for line in run_lines(jobs["images"]))
    assert any(line.startswith("nox -s debt") for line in run_lines(jobs["debt"]))


def test_the_go_cache_is_keyed_by_invoke_cache_key() -> None:
    build = load_workflow()["jobs"]["build"]
    steps = build["steps"]
    key_step = next(s for s in steps if "cache.key" in s.get("run", ""))
    assert "invoke cache.key --platform '${{ matrix.platform }}'" in key_step["run"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["key"] == f"${{{{ steps.{key_step['id']}.outputs.key }}}}"
    assert "gocache" in cache["with"]["path"] and "gomodcache" in cache["with"]["path"]
    order = [s.get("uses") or s.get("run") for s in steps]
    cache_at = order.index(cache["uses"])
    build_at = next(i for i, s in enumerate(order) if s and s.startswith("invoke build"))
    assert order.index(key_step["run"]) < cache_at < build_at


def test_the_plan_step_prints_the_platforms_of_build_yaml(tmp_path: Path) -> None:
    """Run the plan job's own shell step and compare its output with build.yaml."""
    plan = load_workflow()["jobs"]["plan"]
    script = next(s["run"] for s in plan["steps"] if s.get("id") == "plan")
    out = tmp_path / "github_output"
    env = {**os.environ, "GITHUB_OUTPUT": str(out), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=env, check=True, timeout=120,
                   capture_output=True)
    line = out.read_text().strip()
    assert line.startswith("platforms=")
    assert json.loads(line.removeprefix("platforms=")) == list(config.load(REPO / "build.yaml").platforms)


def test_every_invoke_task_named_exists(real_tasks: set[str]) -> None:
    uses = all_uses()
    named = {task for task, _, _ in uses}
    assert {"build", "cache.key", "cache.prune", "cache.info", "report", "image.bases"} <= named
    missing = sorted(f"{task} (job {job})" for task, _, job in uses if task not in real_tasks)
    assert missing == [], f"tasks named in ci.yml that `invoke --list` does not have: {missing}"


def test_every_flag_passed_exists(real_tasks: set[str]) -> None:
    problems = []
    for task, flags, job in all_uses():
        if task not in real_tasks or not flags:
            continue
        helped = run_invoke("--help", task)
        assert helped.returncode == 0, helped.stderr
        problems += [f"{task} {flag} (job {job})" for flag in flags
                     if not re.search(rf"{re.escape(flag)}(?![\w-])", helped.stdout)]
    assert problems == [], f"flags that `invoke --help TASK` does not list: {problems}"


def test_every_nox_session_named_exists(real_sessions: set[str]) -> None:
    named = {(s, job) for job, body in load_workflow()["jobs"].items() for line in run_lines(body)
             for s in nox_sessions(line)}
    assert {s for s, _ in named} >= {"lint", "go_test", "image", "size_check", "debt"}
    missing = sorted(f"{s} (job {job})" for s, job in named if s not in real_sessions)
    assert missing == [], f"sessions named in ci.yml that `nox -l` does not list: {missing}"


def test_the_parsers_read_shell_lines() -> None:
    assert invoke_calls("echo \"key=$(invoke cache.key --platform 'linux/amd64')\" >> x") == [
        ("cache.key", ["--platform"])]
    assert invoke_calls('sudo -E env "PATH=$PATH" invoke image.bases') == [("image.bases", [])]
    assert nox_sessions("nox -s debt -- --format json --output debt.json") == ["debt"]
    assert nox_sessions("nox --session lint go_test") == ["lint", "go_test"]
