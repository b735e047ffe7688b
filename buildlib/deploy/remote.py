"""One host at the other end of SSH (Fabric), or a dry run that only prints.

Fabric rather than a loop over the ``ssh`` binary: one Python object per
host keeps the connection open across the dozen steps of a rollout (no
re-handshake per command), gives SFTP uploads and exit codes without
parsing, runs hosts of a batch in threads, and needs no ssh client or agent
set up on the deployer's machine beyond a key file.
"""

from __future__ import annotations

import io
import shlex
from dataclasses import dataclass
from pathlib import Path

from .. import console
from ..errors import BuildlibError
from .settings import Host, Ssh


class RemoteError(BuildlibError):
    """A command failed on a host; the message names the host, the step and what it printed."""

    def __init__(self, host: Host, step: str, problem: str, hint: str = "") -> None:
        self.host = host
        self.step = step
        self.problem = problem + (f"; {hint}" if hint else "")
        super().__init__(f"{host.name} ({host.address}): {step}: {problem}", hint=hint)


class UnreachableError(RemoteError):
    """No SSH session could be opened."""


@dataclass(frozen=True)
class CommandResult:
    stdout: str
    stderr: str
    exited: int

    @property
    def ok(self) -> bool:
        return self.exited == 0


def wrap(host: Host, script: str, root: bool) -> str:
    """The command line for ``script``: through ``sudo -n`` when it needs root and the user is not."""
    inner = f"sh -c {shlex.quote(script)}"
    return f"sudo -n {inner}" if root and host.user != "root" else inner


class Remote:
    """What a rollout step may do with a host."""

    dry = False

    def __init__(self, host: Host) -> None:
        self.host = host

    def run(self, script: str, step: str, root: bool = True, timeout: float | None = 120,
            check: bool = True) -> CommandResult:
        raise NotImplementedError

    def put(self, local: Path | bytes, remote: str, step: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""


class DryRunRemote(Remote):
    """Prints every command and upload instead of running it; never connects."""

    dry = True

    def run(self, script: str, step: str, root: bool = True, timeout: float | None = 120,
            check: bool = True) -> CommandResult:
        console.host(self.host.name, f"# {step}")
        lines = script.splitlines()
        if len(lines) == 1:
            console.host(self.host.name, f"$ {wrap(self.host, script, root)}")
        else:
            # A long script reads better as a here-document; `sh -s` runs the same text
            # that a real run passes to `sh -c`.
            runner = "sudo -n sh -s" if root and self.host.user != "root" else "sh -s"
            console.host(self.host.name, f"$ {runner} <<'SCRIPT'")
            console.host(self.host.name, "\n".join(lines + ["SCRIPT"]))
        return CommandResult("", "", 0)

    def put(self, local: Path | bytes, remote: str, step: str) -> None:
        what = str(local) if isinstance(local, Path) else f"<{len(local)} bytes rendered in memory>"
        console.host(self.host.name, f"# {step}")
        console.host(self.host.name, f"put {what} -> {remote}")


class SshRemote(Remote):
    """A Fabric connection to one host, opened by ``connect()``."""

    def __init__(self, host: Host, ssh: Ssh, key_file: Path | None, known_hosts: Path | None) -> None:
        super().__init__(host)
        self.ssh = ssh
        self.key_file = key_file
        self.known_hosts = known_hosts
        self.conn = None

    def connect(self) -> None:
        import paramiko
        from fabric import Connection

        kwargs: dict[str, object] = {"allow_agent": False, "look_for_keys": self.key_file is None}
        if self.key_file is not None:
            kwargs["key_filename"] = str(self.key_file)
        conn = Connection(self.host.host, user=self.host.user, port=self.host.port,
                          connect_timeout=int(self.ssh.connect_timeout), connect_kwargs=kwargs)
        # Fabric accepts any host key by default; a deploy should know whom it hands root to.
        if self.known_hosts is not None and self.known_hosts.is_file():
            conn.client.load_host_keys(str(self.known_hosts))
        if self.ssh.strict_host_keys:
            conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            conn.open()
        except paramiko.BadHostKeyException as exc:
            raise UnreachableError(self.host, "connect", "the host key differs from the one in "
                                   f"{self.known_hosts}", "if the host was rebuilt, remove its old entry "
                                   f"with `ssh-keygen -R '[{self.host.host}]:{self.host.port}'`") from exc
        except paramiko.AuthenticationException as exc:
            raise UnreachableError(self.host, "connect", f"authentication failed for {self.host.user} "
                                   f"with key {self.key_file or '(ssh defaults)'}", "check "
                                   "deploy.hosts.*.user/key_file and the host's authorized_keys") from exc
        except paramiko.SSHException as exc:
            if "known_hosts" in str(exc):
                raise UnreachableError(self.host, "connect", f"its host key is not in {self.known_hosts}",
                                       f"verify it, then `ssh-keyscan -p {self.host.port} {self.host.host} "
                                       f">> {self.known_hosts}` (or set deploy.ssh.strict_host_keys: "
                                       "false for throw-away hosts)") from exc
            raise UnreachableError(self.host, "connect", f"SSH failed: {exc}") from exc
        except (TimeoutError, OSError, EOFError) as exc:
            raise UnreachableError(self.host, "connect", f"cannot connect over SSH: {_reason(exc)}",
                                   "is the host up and sshd listening on that port?") from exc
        self.conn = conn

    def run(self, script: str, step: str, root: bool = True, timeout: float | None = 120,
            check: bool = True) -> CommandResult:
        import paramiko
        from invoke.exceptions import CommandTimedOut

        assert self.conn is not None, "connect() first"
        try:
            r = self.conn.run(wrap(self.host, script, root), hide=True, warn=True, in_stream=False,
                              timeout=timeout)
        except CommandTimedOut as exc:
            raise RemoteError(self.host, step, f"no answer within {timeout:g} s") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # A host that went away under an open connection: paramiko says "SSH session not active".
            raise UnreachableError(self.host, step, f"the SSH connection broke: {_reason(exc)}") from exc
        result = CommandResult(r.stdout, r.stderr, r.exited)
        if check and not result.ok:
            raise RemoteError(self.host, step, f"exit {r.exited}: {_tail(r.stderr or r.stdout)}",
                              _hint(r.stderr))
        return result

    def put(self, local: Path | bytes, remote: str, step: str) -> None:
        assert self.conn is not None, "connect() first"
        source = str(local) if isinstance(local, Path) else io.BytesIO(local)
        import paramiko

        try:
            self.conn.put(source, remote)
        except paramiko.SSHException as exc:
            raise UnreachableError(self.host, step, f"the SSH connection broke: {_reason(exc)}") from exc
        except (OSError, EOFError) as exc:
            raise RemoteError(self.host, step, f"upload to {remote} failed: {_reason(exc)}") from exc

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "Unable to connect" in text or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return text


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


def _hint(stderr: str) -> str:
    if "a password is required" in stderr or "a terminal is required" in stderr:
        return "the deploy user needs passwordless sudo (NOPASSWD), or deploy as root"
    return ""
