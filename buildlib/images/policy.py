"""Rules every image must follow, checked on the image's config and every layer.

- runs as a non-root user (a numeric uid, or a name /etc/passwd maps to one)
- scratch and distroless hold no shell (nothing to `docker exec` into, nothing
  for an injected command to run)
- no secret in any layer: a file deleted by a later layer still ships, so all
  layers are read, not only the final file system; the printable strings of
  every ELF binary are scanned too (what a Go binary embeds ships inside it),
  with the rules ``invoke build`` applies to embedded files (buildlib.build.secretscan)
- a HEALTHCHECK is defined
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tarfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from .layers import SavedImage, _norm

# Variants whose point is having no shell.
NO_SHELL_VARIANTS = ("scratch", "distroless")
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox"})
_MAX_SCAN = 1 << 20  # text files larger than this are not secrets people write by hand
_ELF = b"\x7fELF"
_MAX_BINARY = 1 << 30
# Findings per binary content: the variants of one build share their binaries, scan each once.
_BINARY_HITS: dict[str, list[str]] = {}

_SECRET_NAMES = {
    ".env": "a dotenv file",
    ".netrc": "a netrc file (logins)",
    ".git-credentials": "git credentials",
    ".pgpass": "PostgreSQL passwords",
    ".npmrc": "an npm config (may hold a token)",
    "id_rsa": "an SSH private key",
    "id_dsa": "an SSH private key",
    "id_ecdsa": "an SSH private key",
    "id_ed25519": "an SSH private key",
}
_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")
# KEY=value or key: value where the key says password/secret/token and a value follows.
_ASSIGNMENT = re.compile(
    rb"(?im)^[ \t]*(?:export[ \t]+)?([A-Za-z0-9_.-]*(?:passw(?:or)?d|secret|token|api[_-]?key)[A-Za-z0-9_.-]*)"
    rb"[ \t]*[:=][ \t]*['\"]?([^\s'\"#]{4,})"
)
# Values that are placeholders, not secrets.
_PLACEHOLDERS = frozenset({b"changeme", b"example", b"xxxx", b"none", b"null", b"unset", b"true", b"false"})


@dataclass
class PolicyFinding:
    rule: str
    ok: bool
    detail: str


def _is_text(data: bytes) -> bool:
    return b"\0" not in data[:8192]


def _passwd(image: SavedImage) -> dict[str, int]:
    fs = image.filesystem()
    found = fs.get("/etc/passwd")
    if not found:
        return {}
    data = image.read(found[0], "/etc/passwd") or b""
    users = {}
    for line in data.decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            users[parts[0]] = int(parts[2])
    return users


def non_root(image: SavedImage) -> PolicyFinding:
    user = image.user.split(":")[0]
    if not user:
        return PolicyFinding("non-root", False, "no USER is set, so the container runs as root; add USER 65532:65532")
    uid = int(user) if user.isdigit() else _passwd(image).get(user)
    if uid is None:
        return PolicyFinding("non-root", False, f'USER "{user}" is not in the image\'s /etc/passwd, so its uid is '
                             "unknown; use a numeric USER such as 65532:65532")
    if uid == 0:
        return PolicyFinding("non-root", False, f'USER "{image.user}" is root (uid 0); use USER 65532:65532')
    return PolicyFinding("non-root", True, f"runs as {image.user} (uid {uid})")


def no_shell(image: SavedImage) -> PolicyFinding:
    found = sorted(p for p, (_, e) in image.filesystem().items()
                   if e.kind != "dir" and posixpath.basename(p) in SHELLS)
    if found:
        return PolicyFinding("no shell", False, f"a shell is in the image: {', '.join(found[:5])}; "
                                          "this variant must carry only the binaries and their data")
    return PolicyFinding("no shell", True, "no shell in the final file system")


def _shadow_hashes(data: bytes) -> list[str]:
    users = []
    for line in data.decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 2 and parts[1] not in ("", "*", "!", "!!", "x") and not parts[1].startswith(("!", "*")):
            users.append(parts[0])
    return users


def _binaries(image: SavedImage) -> Iterator[tuple[int, str, bytes]]:
    """Every ELF file of every layer (deleted ones too): layer index, path, content."""
    for layer, tar_path in zip(image.layers, image.layer_tars, strict=True):
        with tarfile.open(tar_path) as tar:
            for member in tar:
                if not member.isreg() or not 64 <= member.size <= _MAX_BINARY:
                    continue
                fh = tar.extractfile(member)
                if fh is None or fh.read(4) != _ELF:
                    continue
                yield layer.index, _norm(member.name), _ELF + fh.read()


def _binary_secrets(image: SavedImage) -> tuple[int, list[str]]:
    """How many binaries were read, and a problem line for each one whose strings hold a secret."""
    problems: list[str] = []
    count = 0
    pending: list[tuple[str, str, bytes]] = []
    for layer, path, data in _binaries(image):
        count += 1
        digest = hashlib.sha256(data).hexdigest()
        where = f"{path} (layer {layer})"
        if digest in _BINARY_HITS:
            problems += [f"{where}: {hit}" for hit in _BINARY_HITS[digest]]
        else:
            pending.append((where, digest, data))
    if pending:
        # Imported only when a binary is new to this process: the library takes most of a second to load.
        from ..build.secretscan import scanner, summarise

        with scanner() as scan:
            for where, digest, data in pending:
                hits = scan.scan_binary(data)
                _BINARY_HITS[digest] = [f"{summarise(hits)} in the binary's strings"] if hits else []
                problems += [f"{where}: {hit}" for hit in _BINARY_HITS[digest]]
    return count, problems


def no_secrets(image: SavedImage) -> PolicyFinding:
    problems: list[str] = []
    for layer, entry, data in image.iter_files(_MAX_SCAN):
        name = posixpath.basename(entry.path)
        where = f"{entry.path} (layer {layer})"
        if name in _SECRET_NAMES or name.startswith(".env."):
            problems.append(f"{where}: {_SECRET_NAMES.get(name, 'a dotenv file')}")
            continue
        if not _is_text(data):
            continue
        if _PRIVATE_KEY.search(data):
            problems.append(f"{where}: a private key")
        elif entry.path == "/etc/shadow" and (users := _shadow_hashes(data)):
            problems.append(f"{where}: password hashes for {', '.join(users)}")
        else:
            for m in _ASSIGNMENT.finditer(data):
                if m.group(2).lower() not in _PLACEHOLDERS:
                    problems.append(f"{where}: sets {m.group(1).decode(errors='replace')}")
                    break
    binaries, in_binaries = _binary_secrets(image)
    problems += in_binaries
    if problems:
        return PolicyFinding("no secrets", False, "secrets found (a later layer deleting them does not help): "
                                            + "; ".join(problems[:8]))
    return PolicyFinding("no secrets", True, f"no secret file or value in any layer, nor in the strings of its "
                                       f"{binaries} binar{'y' if binaries == 1 else 'ies'}")


def healthcheck(image: SavedImage) -> PolicyFinding:
    test = image.healthcheck
    if not test or test[0] == "NONE":
        return PolicyFinding("healthcheck", False,
                             'no HEALTHCHECK; build it with `invoke image.build` (its probe asks service.health)')
    return PolicyFinding("healthcheck", True, " ".join(test))


def check(image: SavedImage, variant: str | None) -> list[PolicyFinding]:
    """All rules for ``variant`` (an image of no known variant gets the strictest set)."""
    findings = [non_root(image)]
    if variant is None or variant in NO_SHELL_VARIANTS:
        findings.append(no_shell(image))
    findings += [no_secrets(image), healthcheck(image)]
    return findings


def as_dicts(findings: list[PolicyFinding]) -> list[dict[str, object]]:
    return [asdict(f) for f in findings]
