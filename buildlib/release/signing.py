"""Sign checksums.txt with an SSH key: ``ssh-keygen -Y sign``, checked with ``ssh-keygen -Y verify``.

SSH signatures rather than gpg or cosign: every machine that deploys with this kit
already has OpenSSH (8.1 or newer signs), the team already holds SSH keys, and the
verifier is the same ssh-keygen, with an allowed_signers file as the whole key
distribution. One signature over checksums.txt covers every file it lists.
"""

from __future__ import annotations

from pathlib import Path

from .. import tools
from ..errors import InputError, ToolError


def sign(file: Path, key: Path, namespace: str) -> Path:
    """Write ``file``.sig next to ``file``; ssh-keygen asks for a passphrase on the terminal if the key has one.

    That ``key`` exists was checked before the build (release.sign.key, --sign-key).
    """
    keygen = tools.which("ssh-keygen", hint="release.sign.key is set: install OpenSSH's client (Debian: "
                         "openssh-client), or set release.sign.key to null for unsigned checksums")
    sig = file.with_name(file.name + ".sig")
    sig.unlink(missing_ok=True)  # ssh-keygen refuses to overwrite
    argv = [keygen, "-Y", "sign", "-q", "-f", str(key), "-n", namespace, str(file)]
    try:
        proc = tools.run(argv, timeout=300, check=False)
    except ToolError as exc:  # it ran out of time: the key was readable, so it asked for a passphrase
        raise InputError(f"ssh-keygen -Y sign with {key} waited 300 s (for a passphrase?); load the key into "
                         "ssh-agent first (ssh-add)") from exc
    # A failure here is the key's (the user's input), not the tool's: an InputError, exit 2.
    if proc.returncode != 0 or not sig.is_file():
        raise InputError(f"ssh-keygen -Y sign with {key} failed: {proc.stderr.strip() or proc.returncode}; "
                         "release.sign.key must be an SSH private key (ssh-keygen -t ed25519)")
    return sig


def verify_command(file: str, namespace: str) -> str:
    """What a user runs to check the signature, given the team's allowed_signers file."""
    return (f"ssh-keygen -Y verify -f allowed_signers -I IDENTITY -n {namespace} -s {file}.sig < {file}")
