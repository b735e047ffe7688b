"""The secret scan of `invoke build`: an embedded key or credentials file stops the build; the allow-list lets
a fixture through; the pass is recorded so a rebuild for a new version does not scan (or import) again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers.builds import copy_sources
from tests.helpers.secret_fixtures import CREDENTIALS, KEY, allow, plant
from tests.helpers.support import module_path, run_invoke

ONLY = ("--only", "server:linux/amd64")


def scan_note(stderr: str) -> str:
    """What the secret scan step said when it finished: ``[ 1.6s] done   scan ... (1.5s) - NOTE``."""
    line = next(line for line in stderr.splitlines() if "done   scan embedded files for secrets (" in line)
    return line.split("s) - ", 1)[1]


def test_embedded_key_and_credentials_stop_the_build_naming_file_and_rule(tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "tree")
    plant(tree)
    done = run_invoke("build", *ONLY, cwd=tree, env={"CI": "1"})
    assert done.returncode == 1, done.stderr
    web = f"{module_path()}/web"
    assert ("error: secrets: 2 embedded file(s) match a secret rule; the binaries would carry them and serve them:\n"
            "  web/static/aws/credentials: AWS Access Key (lines 2, 3), Base64 High Entropy String (line 3), "
            f"Secret Keyword (line 3) - embedded by {web} into server\n"
            f"  web/static/deploy-key.pem: Private Key (line 1) - embedded by {web} into server\n"
            "Take them out of the embedded directories (and rotate any real secret that was committed), or, for a "
            "deliberate test fixture, add its path or a glob to build.secrets_allow in build.yaml.") in done.stderr
    assert "start  build" not in done.stdout + done.stderr  # refused before any compile
    assert not (tree / "bin" / "linux_amd64" / "server").exists()


def test_allow_list_lets_only_the_files_it_names_through(tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "tree")
    plant(tree)
    allow(tree, "web/static/deploy-key.pem")
    done = run_invoke("build", *ONLY, cwd=tree, env={"CI": "1"})
    assert done.returncode == 1
    assert "error: secrets: 1 embedded file(s) match a secret rule" in done.stderr
    assert "\n  web/static/aws/credentials: AWS Access Key (lines 2, 3)" in done.stderr
    assert "\n  web/static/deploy-key.pem" not in done.stderr


def test_allow_listed_fixtures_build_and_a_new_version_does_not_scan_again(tmp_path: Path) -> None:
    tree = copy_sources(tmp_path / "tree")
    plant(tree)
    allow(tree, "web/static/deploy-key.pem", "web/static/aws/*")
    done = run_invoke("build", *ONLY, cwd=tree, env={"CI": "1"})
    assert done.returncode == 0, done.stderr
    assert scan_note(done.stderr) == (
        "6 embedded file(s), no secret outside the allow-list (web/static/aws/credentials: AWS Access Key "
        '(lines 2, 3), Base64 High Entropy String (line 3), Secret Keyword (line 3), allowed by build.secrets_allow '
        '"web/static/aws/*"; web/static/deploy-key.pem: Private Key (line 1), allowed by build.secrets_allow '
        '"web/static/deploy-key.pem")')
    server = tree / "bin" / "linux_amd64" / "server"
    assert KEY.encode() in server.read_bytes()  # the fixture really is inside the binary
    # Only the version stamp changed: the recorded pass stands, and detect-secrets is not even imported.
    again = subprocess.run([sys.executable, "-X", "importtime", "-m", "invoke", "build", *ONLY, "--version", "9.9.9"],
                           cwd=tree, capture_output=True, text=True, env={**os.environ, "CI": "1"}, timeout=600)
    assert again.returncode == 0, again.stderr
    assert re.search(r"^server:linux/amd64\s+built", again.stdout, re.M), again.stdout
    assert scan_note(again.stderr) == "passed before, inputs unchanged"
    assert "import time:" in again.stderr and "detect_secrets" not in again.stderr
    # A changed embedded file is scanned again.
    (tree / "web" / "static" / "aws" / "credentials").write_text(CREDENTIALS + "region = eu-west-1\n")
    third = run_invoke("build", *ONLY, cwd=tree, env={"CI": "1"})
    assert third.returncode == 0, third.stderr
    assert scan_note(third.stderr).startswith("6 embedded file(s), no secret outside the allow-list")


def test_template_build_passes_the_scan(built_tree: Path) -> None:
    # The full matrix of the template was built: the scan ran over its embedded files and passed.
    state = json.loads((built_tree / ".build" / "build-state.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", state["checks"]["secrets"])
    manifest = json.loads((built_tree / "bin" / "manifest.json").read_text())
    assert len(manifest["targets"]) == 6


def _tidy_note(stderr: str) -> str:
    line = next(line for line in stderr.splitlines() if "done   check go.mod/go.sum are tidy (" in line)
    return line.split("s)", 1)[1]


def test_a_function_body_edit_repeats_neither_tidy_nor_the_scan_but_imports_and_embeds_do(tmp_path: Path) -> None:
    """Both checks read of a .go file only its imports, build constraints and //go:embed lines."""
    tree = copy_sources(tmp_path / "tree")
    first = run_invoke("build", *ONLY, cwd=tree, env={"CI": "1"})
    assert first.returncode == 0, first.stderr
    assert scan_note(first.stderr) == "4 embedded file(s), no secret"

    def build() -> str:
        done = run_invoke("build", *ONLY, cwd=tree, env={"CI": "1"})
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"^server:linux/amd64\s+built", done.stdout, re.M), done.stdout
        return done.stderr

    router = tree / "internal/server/router.go"
    text = router.read_text()
    # A new line inside a function body (and a comment naming an import): the binary changes, the checks stand.
    router.write_text(text.replace("\nfunc ", '\n// import "os"\nfunc ', 1) + "\nfunc unused() int { return 42 }\n")
    body = build()
    assert scan_note(body) == "passed before, inputs unchanged"
    assert _tidy_note(body) == " - passed before, inputs unchanged"

    # A new import: a package joins the binary (its embedded files might too), and go.mod might be untidy.
    router.write_text(router.read_text().replace('\t"errors"\n', '\t"errors"\n\t"hash/crc32"\n', 1)
                      + "\nvar _ = crc32.ChecksumIEEE\n")
    imported = build()
    assert scan_note(imported) == "4 embedded file(s), no secret"
    assert _tidy_note(imported) == ""

    # Another //go:embed line takes in more files: scanned again.
    web = tree / "web/web.go"
    web.write_text(web.read_text().replace("//go:embed templates static", "//go:embed templates static web.go"))
    embedded = build()
    assert scan_note(embedded) == "5 embedded file(s), no secret"

    # A new file in an embedded directory joins the binary without any .go change: scanned, and refused.
    (tree / "web/static/deploy-key.pem").write_text(KEY)
    refused = run_invoke("build", *ONLY, cwd=tree, env={"CI": "1"})
    assert refused.returncode != 0
    assert "web/static/deploy-key.pem: Private Key (line 1)" in refused.stderr, refused.stderr


def test_a_fresh_build_lists_each_platform_once_for_its_inputs_and_the_scan(tmp_path: Path) -> None:
    """Without .build/ state the inputs and the embedded files come from one `go list -deps` per platform."""
    tree = copy_sources(tmp_path / "tree")
    real_go = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True).stdout.strip()
    calls = tmp_path / "go-calls"
    shim = tmp_path / "bin" / "go"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real_go}/bin/go "$@"\n')
    shim.chmod(0o755)
    env = {"CI": "1", "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    done = run_invoke("build", "--only", "linux/amd64,linux/arm64", cwd=tree, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert scan_note(done.stderr) == "4 embedded file(s), no secret"
    lists = [line for line in calls.read_text().splitlines() if line.startswith("list -e -deps")]
    assert len(lists) == 2, lists  # one per platform, shared by the build's inputs and the secret scan
