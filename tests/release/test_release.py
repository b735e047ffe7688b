"""`invoke release` on a generated app: every file in dist/ checked by the tool that consumes it.

sha256sum -c reads checksums.txt, ssh-keygen -Y verify the signature, CycloneDX's own schema the
SBOMs, tar and zip the archives, rpm the .rpm, dpkg the versions' order. (apt installs the .deb on
a systemd host in tests/deploy/test_deploy_package.py.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.released import IDENTITY, MAINTAINER, TAGS, git, ok, release_invoke
from tests.helpers.support import go_binary

pytestmark = pytest.mark.slow

ELF_MACHINE = {"amd64": 0x3E, "arm64": 0xB7}


def _dist(app: dict[str, Any]) -> Path:
    return Path(app["dist"])


def _kinds(app: dict[str, Any]) -> dict[str, str]:
    return json.loads((_dist(app) / "release.json").read_text())["files"]


def test_dist_holds_an_archive_sbom_and_packages_per_platform(released_app: dict[str, Any]) -> None:
    kinds = _kinds(released_app)
    names = sorted(p.name for p in _dist(released_app).iterdir())
    assert names == sorted([*kinds, "release.json"])
    assert sorted(n for n, k in kinds.items() if k == "archive") == [
        "stock_1.1.0_linux_amd64.tar.gz", "stock_1.1.0_linux_arm64.tar.gz", "stock_1.1.0_windows_amd64.zip"]
    assert sorted(n for n, k in kinds.items() if k == "sbom") == [
        f"stock_1.1.0_{p}_stock.cdx.json" for p in ("linux_amd64", "linux_arm64", "windows_amd64")]
    assert sorted(n for n, k in kinds.items() if k in ("deb", "rpm")) == [
        "stock-1.1.0-1.aarch64.rpm", "stock-1.1.0-1.x86_64.rpm", "stock_1.1.0-1_amd64.deb", "stock_1.1.0-1_arm64.deb"]
    assert kinds["checksums.txt.sig"] == "signature"
    assert "release v1.1.0" in released_app["stdout"]


def test_sha256sum_checks_every_file_and_catches_a_changed_one(released_app: dict[str, Any],
                                                               tmp_path: Path) -> None:
    dist = _dist(released_app)
    proc = subprocess.run(["sha256sum", "--strict", "-c", "checksums.txt"], cwd=dist, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checked = sorted(line.rsplit(": ", 1)[0] for line in proc.stdout.splitlines())
    expected = sorted(n for n in _kinds(released_app) if n not in ("checksums.txt", "checksums.txt.sig"))
    assert checked == expected
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy)
    with (copy / "stock_1.1.0_linux_amd64.tar.gz").open("r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    bad = subprocess.run(["sha256sum", "-c", "checksums.txt"], cwd=copy, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "stock_1.1.0_linux_amd64.tar.gz: FAILED" in bad.stdout


def _verify(dist: Path, signers: Path, identity: str = IDENTITY, data: bytes | None = None) -> \
        subprocess.CompletedProcess[bytes]:
    body = data if data is not None else (dist / "checksums.txt").read_bytes()
    return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", identity, "-n", "file",
                           "-s", str(dist / "checksums.txt.sig")], input=body, capture_output=True)


def test_the_signature_verifies_with_ssh_keygen_and_only_for_the_signed_bytes(released_app: dict[str, Any],
                                                                              tmp_path: Path) -> None:
    dist = _dist(released_app)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"{IDENTITY} {Path(released_app['pub']).read_text().strip()}\n")
    good = _verify(dist, signers)
    assert good.returncode == 0, good.stderr
    assert f'Good "file" signature for {IDENTITY}' in good.stdout.decode()
    changed = (dist / "checksums.txt").read_bytes().replace(b"stock_1.1.0_linux_amd64", b"stock_1.1.0_linux_amd65")
    assert _verify(dist, signers, data=changed).returncode != 0
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    strangers = tmp_path / "strangers"
    strangers.write_text(f"{IDENTITY} {(tmp_path / 'other.pub').read_text().strip()}\n")
    assert _verify(dist, strangers).returncode != 0


def test_archives_hold_the_binary_license_and_readme_owned_by_root_at_the_commit_time(
        released_app: dict[str, Any]) -> None:
    dist, root = _dist(released_app), Path(released_app["root"])
    manifest = json.loads((root / "bin" / "manifest.json").read_text())["targets"]
    for arch in ("amd64", "arm64"):
        with tarfile.open(dist / f"stock_1.1.0_linux_{arch}.tar.gz") as tar:
            members = {m.name: m for m in tar.getmembers()}
            assert sorted(members) == ["LICENSE", "README.md", "stock"]
            for m in members.values():
                assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root")
                assert m.mtime == released_app["epoch"]
            assert members["stock"].mode == 0o755 and members["LICENSE"].mode == 0o644
            binary = tar.extractfile("stock").read()  # type: ignore[union-attr]
            readme = tar.extractfile("README.md").read()  # type: ignore[union-attr]
        import hashlib

        assert hashlib.sha256(binary).hexdigest() == manifest[f"stock:linux/{arch}"]["sha256"]
        assert binary[:4] == b"\x7fELF" and int.from_bytes(binary[18:20], "little") == ELF_MACHINE[arch]
        assert readme == (root / "README.md").read_bytes()
    with zipfile.ZipFile(dist / "stock_1.1.0_windows_amd64.zip") as z:
        assert sorted(z.namelist()) == ["LICENSE", "README.md", "stock.exe"]
        assert z.read("stock.exe")[:2] == b"MZ"
        assert (z.getinfo("stock.exe").external_attr >> 16) & 0o777 == 0o755


def _go_version_m(binary: Path) -> dict[str, str]:
    """module path -> version, as `go version -m` prints the dependencies (the replacement when replaced)."""
    out = subprocess.run([go_binary(), "version", "-m", str(binary)], check=True, capture_output=True,
                         text=True).stdout
    deps: dict[str, str] = {}
    last = None
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "dep":
            deps[parts[1]] = parts[2]
            last = parts[1]
        elif parts and parts[0] == "=>" and last:
            del deps[last]
            deps[parts[1]] = parts[2]
    return deps


def test_the_sboms_validate_against_cyclonedx_and_list_what_the_binary_links(released_app: dict[str, Any]) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    dist, root = _dist(released_app), Path(released_app["root"])
    manifest = json.loads((root / "bin" / "manifest.json").read_text())["targets"]
    for platform in ("linux/amd64", "linux/arm64", "windows/amd64"):
        text = (dist / f"stock_1.1.0_{platform.replace('/', '_')}_stock.cdx.json").read_text()
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
        doc = json.loads(text)
        assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
        main = doc["metadata"]["component"]
        assert main["purl"] == "pkg:golang/example.com/acme/stock@v1.1.0"
        entry = manifest[f"stock:{platform}"]
        assert main["hashes"] == [{"alg": "SHA-256", "content": entry["sha256"]}]
        props = {p["name"]: p["value"] for p in main["properties"]}
        assert (props["go:build:GOOS"], props["go:build:GOARCH"]) == tuple(platform.split("/"))
        listed = {c["name"]: c["version"] for c in doc["components"]}
        assert listed == _go_version_m(root / entry["path"])
        assert listed["github.com/gin-gonic/gin"] == "v1.12.0"
        assert [d["ref"] for d in doc["dependencies"] if d["ref"] == main["bom-ref"]]


def test_the_changelog_lists_the_commits_since_the_previous_tag(released_app: dict[str, Any]) -> None:
    text = (_dist(released_app) / "CHANGELOG.md").read_text()
    assert text.startswith(f"# stock {TAGS[1]}\n\nChanges since {TAGS[0]}:\n")
    subjects = re.findall(r"^- (.*) \([0-9a-f]+\)$", text, re.M)
    assert subjects == ["docs: say it is released", "feat: a greeting for the release"]


def test_rpm_reads_the_package_with_the_hardened_unit(released_app: dict[str, Any]) -> None:
    rpm = shutil.which("rpm")
    assert rpm, "rpm is not installed (Debian package rpm; .ci/run installs it)"
    pkg = _dist(released_app) / "stock-1.1.0-1.x86_64.rpm"
    info = subprocess.run([rpm, "-qip", str(pkg)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    fields = dict(re.findall(r"^(\w[\w ]*?)\s*: (.*)$", info.stdout, re.M))
    assert (fields["Name"], fields["Version"], fields["Release"], fields["Architecture"]) == \
        ("stock", "1.1.0", "1", "x86_64")
    assert fields["Packager"] == MAINTAINER
    files = subprocess.run([rpm, "-qlp", str(pkg)], capture_output=True, text=True, check=True).stdout.split()
    assert "/lib/systemd/system/stock@.service" in files
    assert "/opt/stock/releases/v1.1.0/stock" in files and "/opt/stock/releases/v1.1.0/conf/app.yaml" in files
    scripts = subprocess.run([rpm, "-qp", "--scripts", str(pkg)], capture_output=True, text=True, check=True).stdout
    assert "systemctl enable stock@9090.service" in scripts and "useradd --system" in scripts


def _copy(app: dict[str, Any], dest: Path) -> Path:
    """The released repository copied (with its bin/ and build state, so nothing recompiles)."""
    root = dest / "stock"
    shutil.copytree(app["root"], root, symlinks=True)
    return root


def test_a_snapshot_of_untagged_work_sorts_after_the_tag(released_app: dict[str, Any], tmp_path: Path) -> None:
    root = _copy(released_app, tmp_path)
    (root / "README.md").write_text("# stock\n\nAfter the release.\n")
    git(root, "commit", "-q", "-am", "docs: after the release", when="2026-03-07T05:06:07Z")
    refused = release_invoke(root, "release")
    assert refused.returncode == 2
    assert "is not at a tag" in refused.stderr and "invoke release --snapshot" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert json.loads((root / "dist" / "release.json").read_text())["version"] == "v1.1.0"  # untouched
    blank = release_invoke(root, "release", "--snapshot", "--sign-key", " ")
    assert blank.returncode == 2 and "--sign-key is empty" in blank.stderr
    ci_key = tmp_path / "ci_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ci_key)], check=True)
    ok(release_invoke(root, "release", "--snapshot", "--sign-key", str(ci_key)))
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"{IDENTITY} {(tmp_path / 'ci_key.pub').read_text().strip()}\n")
    assert _verify(root / "dist", signers).returncode == 0  # --sign-key won over release.sign.key
    marker = json.loads((root / "dist" / "release.json").read_text())
    sha = git(root, "rev-parse", "--short=7", "HEAD")
    assert marker["version"].startswith(f"v1.1.0-1-g{sha[:7]}") and marker["snapshot"] is True
    debs = [n for n in marker["files"] if n.endswith("_amd64.deb")]
    assert len(debs) == 1
    version = debs[0].split("_")[1].rsplit("-", 1)[0]
    assert subprocess.run(["dpkg", "--compare-versions", version, "gt", "1.1.0"]).returncode == 0
    assert subprocess.run(["dpkg", "--compare-versions", version, "lt", "1.1.1"]).returncode == 0
    assert not [n for n in (root / "dist").iterdir() if "1.1.0_" in n.name and "+" not in n.name
                and n.name.endswith(".deb")], "the earlier release's files were mixed in"
    assert subprocess.run(["sha256sum", "--strict", "-c", "checksums.txt"], cwd=root / "dist",
                          capture_output=True).returncode == 0


def test_a_second_release_of_the_commit_gives_the_same_archives_and_sboms(released_app: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    root = _copy(released_app, tmp_path)
    first = {n: (root / "dist" / n).read_bytes() for n, k in _kinds(released_app).items() if k in ("archive", "sbom")}
    shutil.rmtree(root / "dist")
    ok(release_invoke(root, "release"))
    again = {n: (root / "dist" / n).read_bytes() for n in first}
    assert again == first


def test_foreign_files_in_dist_and_bad_settings_are_refused_and_kept(released_app: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    root = _copy(released_app, tmp_path)
    notes = root / "dist" / "my-notes.txt"
    notes.write_text("mine\n")
    refused = release_invoke(root, "release")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "dist/ holds files no release wrote (my-notes.txt)" in refused.stderr
    assert notes.read_text() == "mine\n" and (root / "dist" / "stock_1.1.0_linux_amd64.tar.gz").is_file()
    notes.unlink()
    raw = yaml.safe_load((root / "build.yaml").read_text())
    raw["release"]["binaries"] = []
    (root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    empty = release_invoke(root, "release")
    assert empty.returncode == 2
    line = next(i for i, text in enumerate((root / "build.yaml").read_text().splitlines(), 1)
                if text.strip().startswith("binaries: []"))
    assert f"build.yaml:{line}: release.binaries: is empty" in empty.stderr
    raw["release"]["binaries"] = None
    raw["release"]["sign"]["key"] = str(tmp_path / "no-such-key")
    (root / "build.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    git(root, "commit", "-q", "-am", "a key that is not there")
    git(root, "tag", "v1.2.0")
    nokey = release_invoke(root, "release")
    assert nokey.returncode == 2
    assert f"release.sign.key: {tmp_path / 'no-such-key'} does not exist" in nokey.stderr
    assert "build.yaml:" in nokey.stderr and "ssh-keygen -t ed25519" in nokey.stderr
    assert json.loads((root / "dist" / "release.json").read_text())["version"] == "v1.1.0"
    assert not list(root.glob(".dist*")), "a failed release left its staging folder"
