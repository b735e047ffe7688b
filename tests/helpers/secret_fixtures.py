"""Secret-shaped test files: assembled at run time, so no key-shaped text sits in the repository."""

from __future__ import annotations

from pathlib import Path

KEY = "\n".join(["-----BEGIN RSA " + "PRIVATE KEY-----",
                 "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw",
                 "-----END RSA " + "PRIVATE KEY-----", ""])
CREDENTIALS = "\n".join(["[default]", "aws_access_key_id = " + "AKIA" + "QYLPMN5HFIQR7XYA",
                         "aws_secret_access_key = " + "Zx9Qm2V7kLp4Rt8W" + "n3Yb6Hc1Jd5Gf0Ks2Ea7Uv9T", ""])


def plant(tree: Path) -> None:
    """A private key and an AWS credentials file where go:embed picks them up (web/static)."""
    (tree / "web" / "static" / "deploy-key.pem").write_text(KEY)
    (tree / "web" / "static" / "aws").mkdir()
    (tree / "web" / "static" / "aws" / "credentials").write_text(CREDENTIALS)


def allow(tree: Path, *globs: str) -> None:
    """List ``globs`` in build.yaml's build.secrets_allow."""
    cfg = tree / "build.yaml"
    entries = ", ".join(f"'{g}'" for g in globs)
    text = cfg.read_text().replace("  profile: release\n", f"  profile: release\n  secrets_allow: [{entries}]\n", 1)
    assert "secrets_allow" in text
    cfg.unlink()  # the tree may be made of hard links to the repository's files: never write through one
    cfg.write_text(text)
