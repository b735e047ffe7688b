"""What git says about the release: its version, commit, time, the tag before it and the changes since.

A release is a tag at HEAD on a clean work tree; a snapshot (``--snapshot``) is any
commit, versioned by ``git describe``. The commit time, never the clock, dates every
file in dist/, so two runs on one commit give the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..build.stamp import checked_version
from ..build.stamp import git_output as _git
from ..errors import InputError


@dataclass(frozen=True)
class ReleaseSource:
    version: str               # stamped into the binaries: the tag, or git describe's answer for a snapshot
    package_version: str       # the deb/rpm version: starts with a digit, no "-"
    commit: str
    epoch: int                 # the commit time
    author: str                # "Name <address>" of the commit
    tag: str | None            # the tag at HEAD
    previous_tag: str | None   # the newest tag before this release
    snapshot: bool

    @property
    def short_version(self) -> str:
        """The version in file names, without a leading v (as the archives of Go projects name it)."""
        return self.version[1:] if re.match(r"v[0-9]", self.version) else self.version


_DESCRIBE = re.compile(r"(?P<tag>.+)-(?P<count>[0-9]+)-g(?P<sha>[0-9a-f]+)")


def package_version(version: str, snapshot: bool) -> str:
    """A version deb and rpm both order correctly.

    v1.2.0 -> 1.2.0; v1.2.0-rc1 -> 1.2.0~rc1 (a pre-release sorts before the release);
    a snapshot v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234 (after v1.2.0); with no tag, 0.0.0+gabc1234.
    """
    dirty = version.endswith("-dirty")
    base = version[: -len("-dirty")] if dirty else version
    m = _DESCRIBE.fullmatch(base) if snapshot else None
    local = ""
    if m:
        base, local = m.group("tag"), f"{m.group('count')}.g{m.group('sha')}"
    elif snapshot and (re.fullmatch(r"[0-9a-f]{7,40}", base) or not re.match(r"v?[0-9]", base)):
        base, local = "0.0.0", f"g{base}"
    if dirty:
        local = f"{local}.dirty" if local else "dirty"
    base = base[1:] if re.match(r"v[0-9]", base) else base
    if not re.match(r"[0-9]", base):
        base = f"0.0.0+{base}"
    base = base.replace("-", "~")
    if local:
        base += ("." if "+" in base else "+") + local
    return re.sub(r"[^A-Za-z0-9.+~]", ".", base)


def read(root: Path, snapshot: bool) -> ReleaseSource:
    head = _git(root, "log", "-1", "--format=%H%x09%ct%x09%an <%ae>")
    if not head:
        raise InputError(f"{root} has no git commit: the version, the files' dates and the changelog come "
                         "from git; commit the project first (git init && git add -A && git commit)")
    commit, epoch, author = head.split("\t", 2)
    tag = _git(root, "describe", "--tags", "--exact-match", "HEAD")
    dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    if not snapshot:
        if tag is None:
            near = _git(root, "describe", "--tags", "--always") or commit[:12]
            raise InputError(f"HEAD ({near}) is not at a tag, so it has no release version; tag it "
                             "(git tag v1.0.0) or make a snapshot: invoke release --snapshot")
        if dirty:
            raise InputError("the work tree has uncommitted changes (git status), so the tag does not describe "
                             "what would be built; commit or stash them, or make a snapshot: "
                             "invoke release --snapshot")
        version = tag
    else:
        version = _git(root, "describe", "--tags", "--always", "--dirty") or commit[:12]
    checked_version(version, "the git tag" if not snapshot else "git describe")
    # The tag before this release: HEAD's own tag does not count.
    previous = _git(root, "describe", "--tags", "--abbrev=0", "HEAD^" if tag else "HEAD")
    return ReleaseSource(version=version, package_version=package_version(version, snapshot), commit=commit,
                         epoch=int(epoch), author=author, tag=tag, previous_tag=previous, snapshot=snapshot)


def changelog(root: Path, src: ReleaseSource, project_name: str) -> str:
    """The commits since the previous tag, newest first, as Markdown."""
    span = f"{src.previous_tag}..HEAD" if src.previous_tag else "HEAD"
    log = _git(root, "log", "--no-merges", "--format=%h%x09%s", span) or ""
    since = f"since {src.previous_tag}" if src.previous_tag else "since the first commit"
    lines = [f"# {project_name} {src.version}", "", f"Changes {since}:", ""]
    entries = [line.split("\t", 1) for line in log.splitlines() if "\t" in line]
    lines += [f"- {subject} ({sha})" for sha, subject in entries] or ["- (no commits)"]
    return "\n".join(lines) + "\n"
