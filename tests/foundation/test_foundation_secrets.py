"""The secret rules on their own: build.secrets_allow validation, text and binary scans, the lazy import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from buildlib import ConfigError, config
from buildlib.build.secretscan import Hit, allowed_by, scanner, summarise
from tests.helpers.support import REPO, run_invoke

# Assembled at run time, so no key-shaped text sits in the repository.
KEY = "\n".join(["-----BEGIN OPENSSH " + "PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
                 "-----END OPENSSH " + "PRIVATE KEY-----", ""])
AWS_ID = "AKIA" + "QYLPMN5HFIQR7XYA"
GITHUB_TOKEN = "ghp_" + "Zx9Qm2V7kLp4Rt8Wn3Yb6Hc1Jd5Gf0Ks2Ea7"


def with_allow(tree: Path, value: str) -> Path:
    cfg = tree / "build.yaml"
    cfg.write_text(cfg.read_text().replace("  profile: release\n", f"  profile: release\n  secrets_allow: {value}\n",
                                           1))
    return cfg


def allow_line(cfg: Path) -> int:
    return next(i for i, line in enumerate(cfg.read_text().splitlines(), 1) if "secrets_allow" in line)


def test_allow_list_defaults_to_nothing_and_loads_globs(tree: Path) -> None:
    assert config.load(tree / "build.yaml").build.secrets_allow == []
    cfg = with_allow(tree, "[web/static/fixtures/*, 'testdata/key.pem']")
    assert config.load(cfg).build.secrets_allow == ["web/static/fixtures/*", "testdata/key.pem"]


@pytest.mark.parametrize(("value", "key", "problem"), [
    ("web/static/x.pem", "build.secrets_allow", "expected a list, got string"),
    ("['/etc/key.pem']", "build.secrets_allow[0]",
     "\"/etc/key.pem\": must be a path from the repository root (no leading '/', no '..')"),
    ("[web/../key.pem]", "build.secrets_allow[0]", '"web/../key.pem": must be a path from the repository root'),
    ("['web/*', '*']", "build.secrets_allow[1]",
     '"*": would allow every embedded file; name the fixture\'s file or directory, e.g. web/static/fixtures/*'),
    ("['**/*']", "build.secrets_allow[0]", '"**/*": would allow every embedded file'),
    ("['']", "build.secrets_allow[0]", '"": is empty; name the fixture\'s file or directory'),
    ("[{a: b}]", "build.secrets_allow[0]", "expected a string, got a mapping"),
    ("[web/a.pem, web/a.pem]", "build.secrets_allow[1]", "'web/a.pem' is listed twice"),
])
def test_bad_allow_entries_name_line_key_and_rule(tree: Path, value: str, key: str, problem: str) -> None:
    cfg = with_allow(tree, value)
    with pytest.raises(ConfigError) as caught:
        config.load(cfg)
    assert caught.value.key == key
    assert caught.value.line == allow_line(cfg)
    assert str(caught.value).startswith(f"{caught.value.path}:{allow_line(cfg)}: {key}: {problem}")


def test_invoke_refuses_a_bad_allow_entry_with_exit_2(tree: Path) -> None:
    cfg = with_allow(tree, "['*']")
    done = run_invoke("--search-root", str(REPO), "info", cwd=tree)
    assert done.returncode == 2, done.stderr
    assert f"error: build.yaml:{allow_line(cfg)}: build.secrets_allow[0]: \"*\": would allow every" in done.stderr
    assert "Traceback" not in done.stderr


def test_allow_globs_cross_directories() -> None:
    assert allowed_by("web/static/fixtures/a/key.pem", ["web/static/fixtures/*"]) == "web/static/fixtures/*"
    assert allowed_by("web/static/key.pem", ["web/static/fixtures/*", "*.crt"]) is None


def test_text_files_are_judged_by_their_bytes_not_their_names(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_text(KEY)
    (tmp_path / "app.env").write_text("LOG_LEVEL=debug\nDB_PASSWORD=correct-horse-battery\n")
    (tmp_path / "style.css").write_text((REPO / "web" / "static" / "style.css").read_text())
    with scanner() as scan:
        assert scan.scan_path(tmp_path / "logo.png") == [Hit("Private Key", "line 1")]
        assert scan.scan_path(tmp_path / "app.env") == [Hit("Secret Keyword", "line 2")]
        assert scan.scan_path(tmp_path / "style.css") == []


def test_binary_strings_get_the_shape_rules_only() -> None:
    blob = (b"\x00\x01\x7fELF" + KEY.encode() + b"\x00" * 5 + AWS_ID.encode() + b"\xff\xfe"
            + GITHUB_TOKEN.encode() + b"\x00password = 'hunter2hunter2'\x00secret: \"Zm9vYmFyYmF6cXV4cXV1eHh5enp5\"\x00"
            + b"AC" + b"7" + b"0" * 31 + b"\x00")
    key_at = blob.index(b"BEGIN OPENSSH")
    with scanner() as scan:
        hits = scan.scan_binary(blob)
    # The keyword and entropy assignments and the zero-filled Twilio-shaped table are not reported.
    assert hits == sorted([Hit("Private Key", f"offset {key_at:#x}"),
                           Hit("AWS Access Key", f"offset {blob.index(AWS_ID.encode()):#x}"),
                           Hit("GitHub Token", f"offset {blob.index(GITHUB_TOKEN.encode()):#x}")],
                          key=lambda h: int(h.where.split()[-1], 16))


def test_the_real_service_binary_has_no_match(server_bin: Path) -> None:
    with scanner() as scan:
        assert scan.scan_path(server_bin) == []


def test_summary_names_each_rule_once_with_its_lines() -> None:
    hits = [Hit("AWS Access Key", "line 2"), Hit("AWS Access Key", "line 3"), Hit("Secret Keyword", "line 3")]
    assert summarise(hits) == "AWS Access Key (lines 2, 3), Secret Keyword (line 3)"
    many = [Hit("Private Key", f"offset {i:#x}") for i in range(6)]
    assert summarise(many) == "Private Key (offsets 0x0, 0x1, 0x2, 0x3 and 2 more)"


def test_the_library_is_not_imported_by_the_task_modules() -> None:
    code = ("import sys; import tasks, buildlib.build.preflight, buildlib.build.builder, buildlib.images.policy, "
            "buildlib.images.check; print('detect_secrets' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
