"""`invoke release`: what users download, in dist/ (archives, checksums, SBOMs, signature, deb/rpm)."""

from __future__ import annotations

from invoke import Context

from .. import console
from .common import not_blank, project, task


@task(help={"snapshot": "release the current commit, tagged or not, dirty or not (version from git describe); "
                        "without it HEAD must be at a tag on a clean work tree",
            "sign_key": "sign checksums.txt with this SSH private key instead of release.sign.key "
                        "(e.g. one a CI secret wrote to a file)"})
def release(c: Context, snapshot: bool = False, sign_key: str | None = None) -> None:
    """Build every platform and write dist/: archives, checksums.txt (+ .sig), SBOMs, CHANGELOG.md, deb, rpm."""
    from ..release import run as release_run
    from ..release.signing import verify_command
    from ..tables import human_size

    sign_key = not_blank("sign_key", sign_key, "release.sign.key")
    p = project(c)
    r = release_run.run(p, snapshot, echo=console.err, sign_key=sign_key)
    dist = r.cfg.dist
    rows = [[name, kind, human_size((dist / name).stat().st_size)] for name, kind in sorted(r.files.items())]
    console.table(["file", "what", "size"], rows, right={2})
    what = "snapshot" if r.src.snapshot else "release"
    where = dist.relative_to(p.root)
    console.out(f"\n{what} {r.src.version} ({r.src.commit[:12]}): {len(rows)} files in {where}/; "
                f"check them with: cd {where} && sha256sum -c checksums.txt")
    if "checksums.txt.sig" in r.files:
        console.out(f"verify the signature with: {verify_command('checksums.txt', r.cfg.namespace)}")
