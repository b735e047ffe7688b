"""`invoke init`: a new service from the template, and adopting the kit in an existing repository.

The new repository is checked the way its team would: no trace of the template's
names (read from go.mod and build.yaml, never written here), `go build ./...`,
`go test ./...` and `invoke build` with no edits, and the built server calling
itself by its new name.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from buildlib import config
from buildlib.errors import BuildlibError
from buildlib.template import detect, new
from buildlib.template.names import check_module_path, module_path_problem
from tests.helpers.support import REPO, free_port, go_binary, module_path, run_invoke

OLD_MODULE = module_path()
OLD_NAME = config.load(REPO / "build.yaml").project.name
NEW_MODULE = "github.com/acme/orders"
NEW_NAME = "orders"


def go(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([go_binary(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "GOFLAGS": "-mod=readonly"})


def text_files(root: Path) -> dict[str, str]:
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if b"\0" not in data:
                out[path.relative_to(root).as_posix()] = data.decode("utf-8", errors="replace")
    return out


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new repository made once for this module with the real `invoke init`."""
    dest = tmp_path_factory.mktemp("init") / "orders"
    result = run_invoke("init", "--module", NEW_MODULE, "--name", NEW_NAME, "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert f"  module  {OLD_MODULE} -> {NEW_MODULE}\n  service {OLD_NAME} -> {NEW_NAME}\n" in result.stdout
    assert "warning" not in result.stdout
    return dest


def test_no_leftover_of_the_old_names(orders: Path) -> None:
    files = text_files(orders)
    assert len(files) > 50
    found = [f"{rel}:{no}: {line.strip()}" for rel, text in files.items()
             for no, line in enumerate(text.splitlines(), 1)
             if OLD_NAME.lower() in line.lower() or OLD_MODULE.lower() in line.lower()]
    assert found == []
    assert not [p for p in orders.rglob("*") if OLD_NAME.lower() in p.name.lower()]
    assert (orders / "go.mod").read_text().splitlines()[0] == f"module {NEW_MODULE}"
    assert config.load(orders / "build.yaml").project.name == NEW_NAME
    assert (orders / "go.sum").read_bytes() == (REPO / "go.sum").read_bytes()


def test_only_the_template_files_are_copied(orders: Path) -> None:
    top = {p.name for p in orders.iterdir()}
    assert {"buildlib", "tasks.py", "noxfile.py", "build.yaml", "go.mod", "cmd", "internal", "web"} <= top
    assert not top & {".git", "bin", ".nox", ".build", ".ruff_cache", ".pytest_cache"}
    assert not list(orders.rglob("__pycache__"))
    assert not list(orders.rglob("*.pyc"))
    assert not [p for p in orders.parent.iterdir() if p.name.startswith(".orders.")], "temporary dir left behind"
    if (REPO / ".ci" / "run").exists():
        assert os.access(orders / ".ci" / "run", os.X_OK), "file modes are kept"


def test_go_code_is_rewritten_and_formatted(orders: Path) -> None:
    main = (orders / "cmd" / "server" / "main.go").read_text()
    assert f'"{NEW_MODULE}/internal/' in main
    unformatted = subprocess.run([str(Path(go_binary()).resolve().parent / "gofmt"), "-l", "."], cwd=orders,
                                 capture_output=True, text=True, check=True).stdout
    assert unformatted == ""


def test_the_new_repository_builds_and_passes_its_go_tests(orders: Path) -> None:
    built = go("build", "./...", cwd=orders)
    assert built.returncode == 0, built.stderr
    tested = go("test", "./...", cwd=orders)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    packages = re.findall(r"^ok\s+(\S+)", tested.stdout, re.M)
    assert f"{NEW_MODULE}/cmd/server" in packages
    assert all(p.startswith(NEW_MODULE) for p in packages)


def test_invoke_build_in_the_new_repository(orders: Path) -> None:
    listed = run_invoke("--list", "--list-format", "json", cwd=orders)
    assert listed.returncode == 0, listed.stderr
    tasks = {t["name"] for t in json.loads(listed.stdout)["tasks"]}
    assert "build" in tasks, f"`invoke build` is missing in the new repository: {sorted(tasks)}"
    result = run_invoke("build", "--only", "server:linux/amd64", cwd=orders)
    assert result.returncode == 0, result.stderr
    server = orders / "bin" / "linux_amd64" / "server"
    manifest = json.loads((orders / "bin" / "manifest.json").read_text())
    assert manifest["project"] == NEW_NAME
    assert manifest["targets"]["server:linux/amd64"]["path"] == "bin/linux_amd64/server"
    # The service calls itself by the new name (internal/config's default SERVICE_NAME was rewritten).
    proc = subprocess.Popen([str(server)], env={"PORT": str(free_port()), "LISTEN_ADDR": "127.0.0.1",
                                                "LOG_LEVEL": "info"}, stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    started = json.loads(first)
    assert (started["msg"], started["service"]) == ("server started", NEW_NAME)


def test_invoke_info_and_env_in_the_new_repository(orders: Path) -> None:
    info = run_invoke("info", cwd=orders)
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith(f"project   {NEW_NAME}  (version: auto)")
    env = run_invoke("env", "--profile", "prod", cwd=orders)
    assert env.returncode == 0 and "LOG_LEVEL=error" in env.stdout


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "rule"),
    [
        ("orders", 'the first path element "orders" has no dot: it must be a domain name such as github.com '
                   "(e.g. github.com/acme/orders)"),
        ("GitHub.com/acme/orders", "the first path element \"GitHub.com\" may use only lower-case letters, digits, "
                                   "'.' and '-' (it is a domain name)"),
        ("github.com/acme/my orders", "it contains white space; path elements use letters, digits and "
                                      "'-', '.', '_', '~'"),
        ("github.com//orders", "empty path element: it may not start or end with '/' or contain '//'"),
        ("github.com/acme/orders/", "empty path element: it may not start or end with '/' or contain '//'"),
        ("github.com/acme/ord$rs", "path element \"ord$rs\" has characters that are not allowed ('$'); "
                                   "allowed: letters, digits and '-', '.', '_', '~'"),
        ("github.com/acme/.orders", 'path element ".orders" may not start or end with a dot'),
        ("github.com/acme/../orders", 'path element ".." is not allowed (no "." or ".." elements)'),
        ("github.com/acme/orders/v1", 'the major version suffix "/v1" is not allowed: only /v2 and above are '
                                      "written, with no leading zero (drop it for v0 and v1)"),
        ("github.com/acme/con", 'path element "con" is a reserved file name on Windows'),
    ],
)
def test_an_invalid_module_path_names_the_rule(tmp_path: Path, module: str, rule: str) -> None:
    dest = tmp_path / "svc"
    result = run_invoke("init", "--module", module, "--name", "svc", "--dest", str(dest))
    assert result.returncode == 2
    assert result.stderr.strip() == f'error: invalid module path "{module}": {rule}'
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []
    if module not in GO_MOD_INIT_ACCEPTS:
        # Go itself refuses the same path.
        probe = tmp_path / "probe"
        probe.mkdir()
        assert go("mod", "init", module, cwd=probe).returncode != 0


# `go mod init` checks only the import-path rules; these break the stricter rules
# of a module that others fetch (`go get`: a domain first, lower case, no leading dot).
GO_MOD_INIT_ACCEPTS = {"orders", "GitHub.com/acme/orders", "github.com/acme/.orders"}


@pytest.mark.parametrize("module", ["github.com/acme/orders/v2", "example.org/a/b-c_d.e~f", "gitlab.example/x"])
def test_valid_module_paths_are_accepted_like_go_does(tmp_path: Path, module: str) -> None:
    assert module_path_problem(module) is None
    assert go("mod", "init", module, cwd=tmp_path).returncode == 0


def test_an_invalid_name_is_refused(tmp_path: Path) -> None:
    result = run_invoke("init", "--module", NEW_MODULE, "--name", "Orders", "--dest", str(tmp_path / "x"))
    assert result.returncode == 2
    assert result.stderr.startswith('error: invalid service name "Orders": it must be a lower-case name')


def test_a_non_empty_destination_is_refused_unless_forced(tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine\n")
    (dest / "go.mod").write_text("module old.example/junk\n")
    result = run_invoke("init", "--module", NEW_MODULE, "--dest", str(dest))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: --dest {dest} is not empty; choose a new or empty directory, or pass --force to write the "
        "template over it (files of the same name are replaced, others kept)"
    )
    assert sorted(p.name for p in dest.iterdir()) == ["go.mod", "keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]

    result = run_invoke("init", "--module", NEW_MODULE, "--dest", str(dest), "--force")
    assert result.returncode == 0, result.stderr
    assert (dest / "keep.txt").read_text() == "mine\n"
    assert (dest / "go.mod").read_text().startswith(f"module {NEW_MODULE}\n")
    assert config.load(dest / "build.yaml").project.name == "orders"  # the module path's last element
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


def test_a_failure_leaves_nothing_half_written(tmp_path: Path) -> None:
    """The fault is injected just before the final rename: as root no real I/O error can be caused there."""
    dest = tmp_path / "orders"

    def fail(staging: Path) -> None:
        assert (staging / "go.mod").exists()
        raise BuildlibError("disk full (injected)")

    with pytest.raises(BuildlibError, match=r"disk full \(injected\)"):
        new.create(REPO, dest, NEW_MODULE, NEW_NAME, before_rename=fail)
    assert list(tmp_path.iterdir()) == []


def test_module_path_check_raises_with_the_rule() -> None:
    with pytest.raises(BuildlibError, match=r'invalid module path "acme": the first path element "acme" has no dot'):
        check_module_path("acme")


# --- adopting an existing repository -------------------------------------------------------------------------
# (the shapes of real Gin services, images included, are in tests/adopt/)

SHOP = {
    "go.mod": "module example.net/shop\n\ngo 1.22\n",
    "cmd/api/main.go": 'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"os"\n\n\t"example.net/shop/store"\n)\n\n'
                       'func main() {\n\tif len(os.Args) > 1 {\n\t\tfmt.Println("api", store.Name())\n\t\treturn\n\t}\n'
                       '\thttp.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {})\n'
                       '\t_ = http.ListenAndServe(":8090", nil)\n}\n',
    "cmd/worker/main.go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("worker") }\n',
    "store/store.go": 'package store\n\n// Name is the store name.\nfunc Name() string { return "shop" }\n',
    "store/store_test.go": 'package store\n\nimport "testing"\n\nfunc TestName(t *testing.T) {\n'
                           '\tif Name() != "shop" {\n\t\tt.Fatal(Name())\n\t}\n}\n',
    ".gitignore": "/vendor/\n",
}


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_adopt_installs_the_kit_and_writes_build_yaml(tmp_path: Path) -> None:
    shop = make_repo(tmp_path / "shop", SHOP)
    result = run_invoke("init", "--adopt", "--dest", str(shop), cwd=REPO)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"adopted {shop}: module example.net/shop, service shop"
    assert re.fullmatch(r"  kit \S+: \d+ file\(s\) written", lines[1]), lines[1]
    assert lines[2].split() == ["service", "api", "./cmd/api", "serves", "HTTP;", "the", "images", "and", "the",
                                "deploy", "run", "it"]
    assert lines[3].split()[:3] == ["tool", "worker", "./cmd/worker"] and "(linux/amd64 only)" in lines[3]
    assert "  port     8090 (cmd/api/main.go:17)" in lines and "  health   /healthz (cmd/api/main.go:16)" in lines
    project = config.load(shop / "build.yaml")
    assert project.project.name == "shop"
    assert {n: b.main for n, b in project.binaries.items()} == {"api": "./cmd/api", "worker": "./cmd/worker"}
    assert project.binaries["worker"].platforms == ("linux/amd64",)
    assert project.project.version_package == "./internal/version"
    assert (shop / "internal" / "version" / "version.go").exists()
    assert (shop / ".gitignore").read_text().splitlines() == [
        "/vendor/", "# build outputs and caches of the build kit", "/bin/", "/.build/", "/.nox/", "/.venv/",
        "__pycache__/", "*.egg-info/"]
    built = go("build", "./...", cwd=shop)
    assert built.returncode == 0, built.stderr
    # The repository's own copy of the kit runs from here on.
    env = {"PYTHONPATH": str(shop)}
    prod = run_invoke("env", "--profile", "prod", "--format", "json", cwd=shop, env=env)
    assert json.loads(prod.stdout)["values"] == {"GIN_MODE": "release"}  # none of the template's own variables
    listed = json.loads(run_invoke("--list", "--list-format", "json", cwd=shop, env=env).stdout)
    assert "build" in {t["name"] for t in listed["tasks"]}, "`invoke build` is missing"
    nox = subprocess.run([sys.executable, "-m", "nox", "--list"], cwd=shop, capture_output=True, text=True)
    assert nox.returncode == 0 and re.search(r"^[*-] tests ", nox.stdout, re.M), nox.stdout + nox.stderr
    result = run_invoke("build", "--only", "api:linux/amd64", "--version", "1.0.0", cwd=shop, env=env)
    assert result.returncode == 0, result.stderr
    out = subprocess.run([str(shop / "bin" / "linux_amd64" / "api"), "version"], capture_output=True, text=True,
                         check=True)
    assert out.stdout == "api shop\n"

    # A second adopt does not overwrite build.yaml unless told to; with --force the old one is kept.
    again = run_invoke("init", "--adopt", "--dest", str(shop), cwd=REPO)
    assert again.returncode == 2
    assert again.stderr.strip() == (f"error: {shop / 'build.yaml'} already exists; edit it, or pass --force to "
                                    "write a new one over it (the old one is kept as build.yaml.orig)")
    forced = run_invoke("init", "--adopt", "--dest", str(shop), "--force", "--name", "shop-api", cwd=REPO)
    assert forced.returncode == 0, forced.stderr
    assert config.load(shop / "build.yaml").project.name == "shop-api"
    assert config.load(shop / "build.yaml.orig").project.name == "shop"
    # A third one would overwrite that backup: refused, nothing written.
    third = run_invoke("init", "--adopt", "--dest", str(shop), "--force", cwd=REPO)
    assert third.returncode == 2 and "build.yaml.orig exists already" in third.stderr, third.stderr
    assert config.load(shop / "build.yaml").project.name == "shop-api"


def test_adopt_needs_a_dest() -> None:
    result = run_invoke("init", "--adopt", cwd=REPO)
    assert result.returncode == 2
    assert "error: --adopt needs --dest PATH: the Go repository" in result.stderr


def test_adopt_uses_an_existing_version_package_and_a_root_main(tmp_path: Path) -> None:
    files = {
        "go.mod": "module example.net/tools/v3\n\ngo 1.22\n",
        "main.go": 'package main\n\nimport (\n\t"net/http"\n\n\t"example.net/tools/v3/pkg/version"\n)\n\n'
                   'func main() {\n\tprintln(version.Version)\n\t_ = http.ListenAndServe(":8080", nil)\n}\n',
        "pkg/version/version.go": 'package version\n\nvar Version = "dev"\n',
        "cmd/a/server/main.go": "package main\n\nfunc main() {}\n",
        "cmd/b/server/main.go": "package main\n\nfunc main() {}\n",
    }
    root = make_repo(tmp_path / "tools", files)
    result = run_invoke("init", "--adopt", "--dest", str(root), cwd=REPO)
    assert result.returncode == 0, result.stderr
    project = config.load(root / "build.yaml")
    assert project.project.name == "tools"
    assert project.project.version_package == "./pkg/version"
    assert not (root / "internal").exists()
    assert {n: b.main for n, b in project.binaries.items()} == {
        "tools": "./.", "a-server": "./cmd/a/server", "b-server": "./cmd/b/server"}


def test_adopt_without_a_main_package_is_an_error(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "lib", {"go.mod": "module example.net/lib\n\ngo 1.22\n",
                                        "lib.go": "package lib\n\nfunc F() {}\n"})
    result = run_invoke("init", "--adopt", "--dest", str(root), cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: no main package in {root} (`go list ./...` found 1 package(s), none named main); "
        "a binary needs a `package main` with a func main, e.g. cmd/server/main.go"
    )
    assert not (root / "build.yaml").exists()
    assert not (root / "internal").exists()
    assert not (root / "tasks.py").exists()


def test_binary_names_grow_until_they_differ() -> None:
    assert detect._binary_names(["cmd/a/server", "cmd/b/server", ".", "cmd/worker"], "shop") == [
        "a-server", "b-server", "shop", "worker"]


@pytest.mark.parametrize(("module", "name"), [
    ("github.com/acme/portal/server", "portal"), ("example.com/shop/v2", "shop"), ("example.com/orders", "orders"),
    ("example.com/api", None),
])
def test_a_service_is_named_after_something_better_than_server(module: str, name: str | None) -> None:
    assert detect.service_name(module) == name


def test_adopt_writes_the_tidy_setting_knowingly(tmp_path: Path) -> None:
    stale = "example.org/unused v1.0.0 h1:" + "A" * 43 + "=\n"  # a go.sum line nothing needs
    shop = make_repo(tmp_path / "shop", {**SHOP, "go.sum": stale})
    result = run_invoke("init", "--adopt", "--dest", str(shop), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert ("  tidy     warn: not tidy when adopted (go mod tidy would add 0 line(s) and delete 1): run `go mod "
            "tidy`, commit, then set error") in result.stdout.splitlines()
    assert config.load(shop / "build.yaml").build.tidy == "warn"
    env = {"PYTHONPATH": str(shop)}
    warned = run_invoke("build", "--only", "api:linux/amd64", cwd=shop, env=env)
    assert warned.returncode == 0, warned.stderr
    assert "warning: go mod tidy would add 0 line(s) and delete 1 (build.tidy: warn)" in warned.stdout + warned.stderr
    text = (shop / "build.yaml").read_text().replace("  tidy: warn", "  tidy: error")
    (shop / "build.yaml").write_text(text)
    refused = run_invoke("build", "--only", "api:linux/amd64", "--force", cwd=shop, env=env)
    assert refused.returncode != 0
    assert "go.mod/go.sum are not tidy (they do not match the imports; go mod tidy would add 0 line(s) and " \
           "delete 1)" in refused.stderr
    assert "or set build.tidy: warn (or off) in build.yaml to build anyway" in refused.stderr
    (shop / "build.yaml").write_text(text.replace("  tidy: error", "  tidy: off"))
    skipped = run_invoke("build", "--only", "api:linux/amd64", "--force", cwd=shop, env=env)
    assert skipped.returncode == 0 and "skipped (build.tidy: off)" in skipped.stdout + skipped.stderr
