"""Local base images, for hosts where no container registry is reachable.

`invoke image.bases` assembles three images from files the host already has
(Debian packages and the host Go toolchain) and loads them with `docker import`:

  local/go-builder:<go version>     busybox-static + CA bundle + the host's GOROOT
  local/distroless-static:nonroot   CA bundle, tzdata, passwd/group with nonroot 65532, /tmp
  local/alpine-standin:busybox      busybox-static + CA bundle: a shell and the usual tools

They are named `local/...` because they are not the registry images, only
equivalents of what the Dockerfile needs from them. Each carries a label with
a fingerprint of its recipe and inputs; a second run finds the label and skips
the import, so the task is cheap enough to run before every test run.

Computing that fingerprint lists every file of the host's Go and C toolchain
(most of a second, on every `image.build --local-bases`). So the image ID each
check found current is also kept beside the tool cache with the identity of
its inputs (the dpkg database, GOROOT, busybox, the CA bundle, tzdata and this
recipe's own source): while none of them changed and the tag still names that
image, the check is a few stat calls.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import tools
from ..atomic import read_json, write_json
from ..build.keys import digest
from ..errors import ToolError
from ..toolcache import tools_dir
from .engine import DockerCLI, cli, require_engine
from .rootfs import Rootfs
from .settings import LOCAL

CONTENT_LABEL = "org.buildlib.base.content"
# Bump when a recipe below changes, so existing images are rebuilt.
RECIPE_VERSION = "4"
ROLES: tuple[str, ...] = ("builder", "distroless", "alpine")

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
_ZONEINFO = "/usr/share/zoneinfo"
_NONROOT = 65532

_PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    f"nonroot:x:{_NONROOT}:{_NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n"
)
_GROUP = f"root:x:0:\nnobody:x:65534:\nnonroot:x:{_NONROOT}:\n"


@dataclass(frozen=True)
class BaseResult:
    role: str
    tag: str
    status: str  # "built" | "up to date"
    size: int
    seconds: float


@dataclass(frozen=True)
class GoToolchain:
    goroot: Path
    version: str  # "1.26.8"


def host_go() -> GoToolchain:
    """The host's Go toolchain, which the builder image carries."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise ToolError("no `go` on PATH: the local builder image copies the host's Go toolchain; install Go")
    out = tools.run([go, "env", "GOROOT", "GOVERSION"], timeout=120)
    goroot, goversion = out.stdout.split()
    return GoToolchain(Path(goroot), goversion.removeprefix("go"))


def local_tag(role: str) -> str:
    """The name `image.bases` gives the image standing in for ``role``."""
    if role == "builder":
        return f"local/go-builder:{host_go().version}"
    return {"distroless": "local/distroless-static:nonroot", "alpine": "local/alpine-standin:busybox"}[role]


def resolve(role: str, ref: str | None) -> str | None:
    """build.yaml's base for ``role``, with "local" replaced by the local image's tag."""
    return local_tag(role) if ref == LOCAL else ref


def _need(path: str, package: str) -> str:
    if not os.path.exists(path):
        raise ToolError(f"{path} is missing; install it with: apt-get install {package}")
    return path


def is_static(path: str) -> bool:
    """True when the ELF file has no program interpreter (so it runs in an empty root).

    Reads 32- and 64-bit headers of either byte order: linux/arm, 386 and ppc64 images too.
    """
    with open(path, "rb") as fh:
        head = fh.read(64)
        if head[:4] != b"\x7fELF" or head[4] not in (1, 2):
            return False
        order = "<" if head[5] == 1 else ">"
        if head[4] == 2:
            phoff, = struct.unpack_from(order + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
        else:
            phoff, = struct.unpack_from(order + "I", head, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
        fh.seek(phoff)
        table = fh.read(phentsize * phnum)
    return all(struct.unpack_from(order + "I", table, i * phentsize)[0] != 3 for i in range(phnum))  # PT_INTERP


def _busybox() -> str:
    path = shutil.which("busybox") or "/bin/busybox"
    _need(path, "busybox-static")
    if not is_static(path):
        raise ToolError(f"{path} is dynamically linked; the images need the static one: apt-get install busybox-static")
    return path


def _add_busybox(fs: Rootfs) -> None:
    busybox = _busybox()
    fs.copy("bin/busybox", busybox, 0o755)
    applets = tools.run([busybox, "--list"], timeout=60).stdout.split()
    for applet in applets:
        if applet not in ("busybox", "[["):
            fs.symlink(f"bin/{applet}", "busybox")
    fs.symlink("bin/[[", "busybox")


def _add_etc(fs: Rootfs, *, hosts_file: bool = True) -> None:
    fs.file("etc/passwd", _PASSWD)
    fs.file("etc/group", _GROUP)
    # Go's resolver reads this to decide the order of /etc/hosts and DNS.
    fs.file("etc/nsswitch.conf", "hosts: files dns\n")
    fs.copy(_CA_BUNDLE, _need(_CA_BUNDLE, "ca-certificates"), 0o644)
    fs.dir("tmp", 0o1777)
    fs.dir("root", 0o700)


def _package_versions(*names: str) -> str:
    if not shutil.which("dpkg-query"):
        return ""
    # Not checked: a name dpkg does not know is left out of the answer, which is what is wanted here.
    out = tools.run(["dpkg-query", "-W", "-f", "${Package}=${Version} ", *names], timeout=60, check=False)
    return out.stdout.strip()


# A C toolchain for cgo builds, as the golang registry image has one: what `go build` with
# CGO_ENABLED=1 calls (gcc, as, ld) and links statically against (libc.a, libgcc.a).
C_TOOLCHAIN = ("gcc", "gcc-12", "libc6-dev", "libgcc-12-dev", "binutils")
_NOT_NEEDED = ("usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/", "usr/share/lintian/",
               "usr/share/bug/", "usr/share/gdb/")


def _depends_closure(roots: tuple[str, ...]) -> list[str]:
    """The installed packages ``roots`` need (Depends and Pre-Depends, first installed alternative)."""
    seen: list[str] = []
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        out = tools.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Depends}, ${Pre-Depends}", name],
                        timeout=60, check=False)  # not installed: skipped below
        if out.returncode != 0 or not out.stdout.startswith("ii"):
            continue
        seen.append(name)
        for clause in out.stdout.split("|", 1)[1].split(","):
            for alternative in clause.split("|"):
                dep = alternative.strip().split(" ")[0].split(":")[0]
                if dep:
                    todo.append(dep)
                    break
    return sorted(seen)


def _add_packages(fs: Rootfs, packages: tuple[str, ...]) -> list[str]:
    """Copy every file of the installed ``packages`` and what they depend on; the names copied."""
    for pkg in packages:
        _need_package(pkg)
    closure = _depends_closure(packages)
    listed = tools.run(["dpkg-query", "-L", *closure], timeout=60, check=False)  # what it lists is what is there
    for line in sorted(set(listed.stdout.splitlines())):
        if not line.startswith("/") or line == "/.":
            continue
        rel = line.lstrip("/")
        # Debian merges /lib into /usr/lib: files listed under lib/ land in usr/lib/, reached by a link.
        for merged in ("lib/", "lib64/"):
            if rel.startswith(merged):
                rel = "usr/" + rel
        if rel.startswith(_NOT_NEEDED) or rel in ("lib", "lib64"):
            continue
        if os.path.islink(line):
            fs.symlink(rel, os.readlink(line))
        elif os.path.isdir(line):
            if rel not in fs.entries:
                fs.dir(rel, stat.S_IMODE(os.stat(line).st_mode))
        elif os.path.isfile(line):
            fs.copy(rel, line)
    fs.symlink("lib", "usr/lib")
    fs.symlink("lib64", "usr/lib64")
    return closure


def _need_package(name: str) -> None:
    out = tools.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", name], timeout=60, check=False)
    if out.returncode != 0 or not out.stdout.startswith("ii"):
        raise ToolError(f"the local builder image carries the host's C toolchain for cgo builds, but {name} is "
                        f"not installed; install it with: apt-get install {' '.join(C_TOOLCHAIN[::2])}")


def _builder(go: GoToolchain) -> tuple[Rootfs, list[str], str]:
    fs = Rootfs()
    _add_packages(fs, C_TOOLCHAIN)
    # busybox after the packages: its applets (sh, tar, ...) win over any same-named file of theirs.
    _add_busybox(fs)
    _add_etc(fs)
    fs.dir("go", 0o755)

    # What `go build` never reads: the Go project's own tests, docs and API lists.
    def skip(rel: str) -> bool:
        parts = rel.split(os.sep)
        return parts[0] in ("test", "api", "doc", "misc") or "testdata" in parts or rel.endswith("_test.go")

    fs.tree("usr/local/go", go.goroot, skip)
    changes = [
        f"ENV PATH=/usr/local/go/bin:/go/bin:{_PATH}",
        "ENV GOPATH=/go",
        "ENV GOTOOLCHAIN=local",
        f"ENV SSL_CERT_FILE={_CA_BUNDLE}",
        "WORKDIR /go",
        'CMD ["/bin/sh"]',
    ]
    return fs, changes, (f"Go {go.version} from the host's {go.goroot} (tests and docs left out), the host's gcc "
                         "and C library for cgo, busybox-static")


def _distroless() -> tuple[Rootfs, list[str], str]:
    fs = Rootfs()
    _add_etc(fs)
    fs.dir("home/nonroot", 0o700, _NONROOT, _NONROOT)
    # right/ repeats every zone with leap seconds; Go never reads it.
    fs.tree("usr/share/zoneinfo", _need(_ZONEINFO, "tzdata"),
            lambda rel: rel.split(os.sep)[0] == "right" or rel == "localtime")
    fs.file("etc/os-release", 'NAME="buildlib distroless-static stand-in"\nID=buildlib-local\n')
    changes = [
        f"ENV PATH={_PATH}",
        f"ENV SSL_CERT_FILE={_CA_BUNDLE}",
        f"USER {_NONROOT}:{_NONROOT}",
        "WORKDIR /home/nonroot",
    ]
    return fs, changes, "CA bundle, tzdata, passwd/group with nonroot 65532, /tmp (no shell)"


def _alpine() -> tuple[Rootfs, list[str], str]:
    fs = Rootfs()
    _add_busybox(fs)
    _add_etc(fs)
    fs.file("etc/os-release", 'NAME="buildlib alpine stand-in (busybox)"\nID=buildlib-local\n')
    changes = [f"ENV PATH={_PATH}", 'CMD ["/bin/sh"]']
    return fs, changes, "busybox-static (sh and applets) and the CA bundle"


_RECIPES: dict[str, Callable[[], tuple[Rootfs, list[str], str]]] = {
    "builder": lambda: _builder(host_go()),
    "distroless": _distroless,
    "alpine": _alpine,
}


def _current(client: DockerCLI, tag: str) -> tuple[str | None, str | None]:
    """(image ID, content label) of ``tag``, or (None, None) when there is no such image."""
    proc = client.run("image", "inspect", "--format", "{{.Id}} {{json .Config.Labels}}", tag, check=False)
    if proc.returncode != 0:
        return None, None
    image_id, _, labels = proc.stdout.decode().partition(" ")
    return image_id, (json.loads(labels or "null") or {}).get(CONTENT_LABEL)


def _import(client: DockerCLI, fs: Rootfs, changes: list[str], tag: str) -> None:
    args = [client.path, "import"]
    for change in changes:
        args += ["--change", change]
    args += ["--message", "buildlib image.bases", "-", tag]
    tools.feed(args, fs.write, env=client.env(), hint=f"the local base image {tag} was not made")


_DPKG_STATUS = "/var/lib/dpkg/status"  # rewritten by every install, upgrade or removal of a package


def _stat(path: str) -> list[int]:
    try:
        st = os.stat(path)
    except OSError:
        return [0]
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _inputs_key(role: str) -> str:
    """The identity of what ``role``'s recipe reads from the host: any change there means a full check."""
    paths = [_DPKG_STATUS, _CA_BUNDLE, __file__, str(Path(__file__).with_name("rootfs.py"))]
    if role in ("builder", "alpine"):
        paths.append(shutil.which("busybox") or "/bin/busybox")
    if role == "distroless":
        paths.append(_ZONEINFO)
    parts: list[object] = [RECIPE_VERSION, role]
    if role == "builder":
        go = host_go()
        root = str(go.goroot)
        paths += [root, f"{root}/VERSION", f"{root}/bin", f"{root}/src", f"{root}/pkg/tool"]
        parts.append(go.version)
    return digest([*parts, *((path, _stat(path)) for path in paths)])


def _checked_path() -> Path:
    return tools_dir().parent / "local-bases.json"


def ensure(roles: tuple[str, ...] = ROLES, force: bool = False,
           log: Callable[[str], None] = lambda line: None) -> list[BaseResult]:
    """Make the local base images of ``roles`` unless they are already up to date."""
    require_engine()
    client = cli()
    results = []
    checked = read_json(_checked_path(), {})
    for role in roles:
        start = time.monotonic()
        tag = local_tag(role)
        inputs = _inputs_key(role)
        old_id, old_content = _current(client, tag)
        seen = checked.get(tag) or {}
        if not force and old_id and seen.get("inputs") == inputs and seen.get("id") == old_id:
            results.append(BaseResult(role, tag, "up to date", int(seen.get("size", 0)), time.monotonic() - start))
            continue
        fs, changes, summary = _RECIPES[role]()
        packages = _package_versions("busybox-static", "ca-certificates", "tzdata")
        content = fs.digest(RECIPE_VERSION, *changes)
        labels = [f"LABEL {CONTENT_LABEL}={content}",
                  f'LABEL org.buildlib.base.recipe="{summary}"',
                  f'LABEL org.buildlib.base.packages="{packages}"']
        if not force and old_content == content:
            status = "up to date"
        else:
            log(f"importing {tag}: {summary}")
            _import(client, fs, [*changes, *labels], tag)
            if old_id:  # the replaced image is untagged now; a container still using it keeps it
                client.run("image", "rm", old_id, check=False)
            status = "built"
        new_id, _ = _current(client, tag) if status == "built" else (old_id, None)
        checked[tag] = {"inputs": inputs, "id": new_id, "size": fs.size()}
        write_json(_checked_path(), checked)
        results.append(BaseResult(role, tag, status, fs.size(), time.monotonic() - start))
    return results


# What each stand-in can be pushed for: the distroless one holds no program, so one
# tree serves every platform; the others carry the host's binaries (Go, gcc, busybox).
_ANY_PLATFORM = ("distroless",)


@dataclass(frozen=True)
class PushedBase:
    role: str
    ref: str
    platforms: tuple[str, ...]
    seconds: float


def host_platform() -> str:
    machine = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)
    return f"linux/{arch}"


def push(prefix: str, platforms: tuple[str, ...], builder: str | None, insecure: bool,
         roles: tuple[str, ...] = ROLES, log: Callable[[str], None] = lambda line: None) -> list[PushedBase]:
    """Push the stand-ins to PREFIX/NAME:TAG through a buildx builder, for a builder that cannot read this engine.

    A remote or docker-container builder pulls its FROM images from a registry;
    this puts the same trees `ensure` imports where it can reach them.
    """
    from .publish import inspect_builder, push_output

    client = cli()
    found = inspect_builder(client, builder)
    host = host_platform()
    results = []
    for role in roles:
        start = time.monotonic()
        fs, changes, summary = _RECIPES[role]()
        name = local_tag(role).removeprefix("local/")
        ref = f"{prefix.rstrip('/')}/{name}"
        targets = platforms if role in _ANY_PLATFORM else (host,)
        log(f"pushing {ref} for {', '.join(targets)}: {summary}")
        with tempfile.TemporaryDirectory(prefix="base-") as tmp:
            with open(Path(tmp) / "rootfs.tar", "wb") as out:
                fs.write(out)
            # ADD unpacks a local tar with its owners and modes, as `docker import` does.
            (Path(tmp) / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\n" + "\n".join(changes) + "\n"
                                                  f"LABEL {CONTENT_LABEL}={fs.digest(RECIPE_VERSION, *changes)}\n")
            proc = client.run("buildx", "build", "--builder", found.name, "--progress=plain",
                              "--platform", ",".join(targets), *push_output(insecure), "-t", ref, tmp,
                              check=False, timeout=1800, env={"SOURCE_DATE_EPOCH": "0"})
        if proc.returncode != 0:
            words = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()[-12:]
            raise ToolError(f"pushing {ref} failed:\n  " + "\n  ".join(words))
        results.append(PushedBase(role, ref, targets, time.monotonic() - start))
    return results
