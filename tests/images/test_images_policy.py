"""Policy checks: the variants pass; a deliberately bad image fails on every rule, with the reason."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildlib.images import engine, policy
from buildlib.images.layers import saved
from tests.helpers.images import invoke_ok, remove_tags
from tests.helpers.secret_fixtures import allow, plant
from tests.helpers.support import run_invoke

# Everything the policy forbids: a shell (busybox base), root (no USER), no HEALTHCHECK,
# a .env with a password, and a private key that a later layer deletes (it still ships).
_BAD_DOCKERFILE = """\
FROM local/alpine-standin:busybox
COPY app.env /app/.env
COPY key.pem /root/.ssh/id_ed25519
RUN rm /root/.ssh/id_ed25519
"""
# Assembled at run time, so no key-shaped text sits in the repository.
_KEY = "\n".join(["-----BEGIN OPENSSH " + "PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA", "-----END OPENSSH "
                  + "PRIVATE KEY-----", ""])


@pytest.fixture(scope="module")
def bad_image(tmp_path_factory: pytest.TempPathFactory, local_bases: str, token: str) -> Iterator[str]:
    ctx = tmp_path_factory.mktemp("bad-image")
    (ctx / "Dockerfile").write_text(_BAD_DOCKERFILE)
    (ctx / "app.env").write_text("LOG_LEVEL=debug\nDB_PASSWORD=correct-horse-battery\n")
    (ctx / "key.pem").write_text(_KEY)
    repo = f"buildlib-test-{token}-bad"
    cli = engine.cli()
    proc = subprocess.run([*cli.build_argv(), "-q", "--network=none", "--label", "buildlib.test=1",
                           "--label", f"buildlib.test.run={token}", "-t", f"{repo}:latest", str(ctx)],
                          capture_output=True, text=True, env=cli.env())
    assert proc.returncode == 0, proc.stderr
    yield f"{repo}:latest"
    remove_tags(repo)


def test_variants_pass_every_rule(variants: dict) -> None:
    for variant, image in variants.items():
        with saved(engine.cli(), image["ref"]) as img:
            findings = policy.check(img, variant)
        assert all(f.ok for f in findings), (variant, findings)
        secrets = next(f for f in findings if f.rule == "no secrets")
        assert re.fullmatch(r"no secret file or value in any layer, nor in the strings of its \d+ binar(y|ies)",
                            secrets.detail), secrets.detail
        rules = [f.rule for f in findings]
        assert ("no shell" in rules) == (variant != "alpine")


def test_bad_image_fails_with_every_reason(workspace: Path, bad_image: str) -> None:
    proc = run_invoke("image.check", "--image", bad_image, cwd=workspace)
    assert proc.returncode == 1
    err = proc.stderr
    assert f"{bad_image}: non-root: no USER is set, so the container runs as root" in err
    assert f"{bad_image}: no shell: a shell is in the image: /bin/ash, /bin/busybox, /bin/sh" in err
    assert "/app/.env (layer 1): a dotenv file" in err
    assert "/root/.ssh/id_ed25519 (layer 2): an SSH private key" in err  # deleted in layer 3, still shipped
    assert f"{bad_image}: healthcheck: no HEALTHCHECK" in err


def test_deleted_secret_still_ships_and_counts_as_waste(bad_image: str) -> None:
    with saved(engine.cli(), bad_image) as img:
        finding = policy.no_secrets(img)
        waste = [(w.path, w.bytes, w.why) for w in img.waste()]
        final = img.filesystem()
    assert not finding.ok
    assert "/root/.ssh/id_ed25519" not in final  # gone from the container's view...
    assert ("/root/.ssh/id_ed25519", len(_KEY), "deleted in layer 3") in waste  # ...but not from the image


def test_root_by_name_is_root(bad_image: str, tmp_path: Path, token: str) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM local/distroless-static:nonroot\nUSER root\nHEALTHCHECK CMD [\"/x\"]\n")
    repo = f"buildlib-test-{token}-rootname"
    cli = engine.cli()
    subprocess.run([*cli.build_argv(), "-q", "--label", "buildlib.test=1", "-t", f"{repo}:latest", str(tmp_path)],
                   capture_output=True, check=True, env=cli.env())
    try:
        with saved(cli, f"{repo}:latest") as img:
            finding = policy.non_root(img)
        assert not finding.ok
        assert finding.detail == 'USER "root" is root (uid 0); use USER 65532:65532'
    finally:
        remove_tags(repo)


def test_binary_embedding_secrets_fails_naming_binary_and_rule(scratch_copy: Path, tmp_path: Path, token: str,
                                                               labels: list[str], local_bases: str) -> None:
    # The fixtures are allow-listed, so `invoke build` embeds them: image.check must still find them in the binary.
    plant(scratch_copy)
    allow(scratch_copy, "web/static/deploy-key.pem", "web/static/aws/*")
    invoke_ok("build", "--only", "server:linux/amd64", cwd=scratch_copy)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "server").write_bytes((scratch_copy / "bin" / "linux_amd64" / "server").read_bytes())
    (ctx / "Dockerfile").write_text('FROM local/distroless-static:nonroot\nCOPY server /usr/local/bin/server\n'
                                    'USER 65532:65532\nHEALTHCHECK CMD ["/usr/local/bin/server", "-healthcheck"]\n')
    repo = f"buildlib-test-{token}-embedded"
    cli = engine.cli()
    built = subprocess.run([*cli.build_argv(), "-q", "--network=none", *labels, "-t", f"{repo}:latest", str(ctx)],
                           capture_output=True, text=True, env=cli.env())
    assert built.returncode == 0, built.stderr
    try:
        proc = run_invoke("image.check", "--image", f"{repo}:latest", cwd=scratch_copy)
    finally:
        remove_tags(repo)
    assert proc.returncode == 1, proc.stdout
    problems = [line.strip() for line in proc.stderr.splitlines() if line.startswith("  ")]
    assert len(problems) == 1, proc.stderr  # only the secrets rule fails: user, shell, healthcheck are right
    assert re.fullmatch(
        rf"{repo}:latest: no secrets: secrets found \(a later layer deleting them does not help\): "
        r"/usr/local/bin/server \(layer 1\): AWS Access Key \(offset 0x[0-9a-f]+\), "
        r"Private Key \(offset 0x[0-9a-f]+\) in the binary's strings", problems[0]), problems[0]
