"""The `deploy:` section: hosts, profile, paths, gates. Values that end up in unit files,
nginx configuration or shell commands are validated tightly here, so a typo is a config error
with its line instead of a broken host.
"""

from __future__ import annotations

import ipaddress
import re

from ..platforms import KNOWN_PLATFORMS
from ..schema import SECTION_DEFAULTS, Bool, Field, Int, ListOf, MapOf, Nullable, Number, Record, Str

PROFILES = ("strict", "hardened")
_ENV_NAME = r"[A-Z_][A-Z0-9_]*"
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def hostname_problem(value: str) -> str | None:
    """Why ``value`` is not an RFC 1123 host name (None when it is one)."""
    name = value[2:] if value.startswith("*.") else value  # nginx accepts a leading wildcard
    if not name or len(name) > 253:
        return "a host name has 1 to 253 characters"
    labels = name.rstrip(".").split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return "each dot-separated label needs 1 to 63 letters, digits or '-', not starting or ending with '-'"
    if labels[-1].isdigit():
        return "the last label is all digits: write an IP address in `host`, a name in `domain`"
    return None


def address_problem(value: str) -> str | None:
    """Why ``value`` is neither an IP address nor a host name."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    return hostname_problem(value) if not value.startswith("*.") else "a wildcard is not an address"


def abs_path_problem(value: str) -> str | None:
    """Why ``value`` is not a plain absolute path safe in units, nginx and shell."""
    if not value.startswith("/") or value == "/":
        return "must be an absolute path below / such as /opt/ginsvc"
    if not re.fullmatch(r"[A-Za-z0-9._/@+-]+", value):
        return "may only hold letters, digits and . _ / @ + - (it goes into unit files and shell commands)"
    parts = value.split("/")[1:]
    if any(p in ("", ".", "..") for p in parts):
        return "no empty, '.' or '..' parts (write it the way `realpath` would)"
    return None


def prefix_problem(value: str) -> str | None:
    """Why ``value`` is not an IP address or prefix systemd's IPAddressAllow= takes."""
    try:
        ipaddress.ip_network(value, strict=False)
        return None
    except ValueError:
        return "an IP address or prefix such as 10.0.5.20 or 10.0.5.0/24 (the filter sees addresses, not names)"


def hostport_problem(value: str) -> str | None:
    """Why ``value`` is not HOST:PORT."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return "write HOST:PORT, such as 10.0.0.7:9180"
    return address_problem(host.strip("[]"))


def local_path_problem(value: str) -> str | None:
    """Why ``value`` is not a usable path on the deployer's machine (``~`` allowed)."""
    if not re.fullmatch(r"[A-Za-z0-9._/@+~-]+", value) or "~" in value[1:]:
        return "may only hold letters, digits and . _ / @ + - (and a leading ~)"
    return None


_PATH = Str(check=abs_path_problem, what="an absolute path")
_LOCAL_PATH = Str(check=local_path_problem, what="a file path")
_PORT = Int(min=1, max=65535, what="a TCP port (1-65535)")

_HOST = Record(
    cls=dict,
    fields={
        "host": Field(Str(check=address_problem, what="a host name or IP address")),
        "port": Field(_PORT, default=22),
        "user": Field(
            Str(pattern=r"[a-z_][a-z0-9_-]{0,31}", pattern_help="a Unix user name"), default="root"
        ),
        "key_file": Field(Nullable(_LOCAL_PATH), default=None),
        "platform": Field(
            Str(choices=tuple(p for p in KNOWN_PLATFORMS if p.startswith("linux/")),
                what="a Linux platform GOOS/GOARCH"),
            default="linux/amd64",
        ),
        # Where Prometheus reaches the host's metrics listener when not host:monitoring.port
        # (a forwarded or published port).
        "metrics": Field(Nullable(Str(check=hostport_problem, what="host:port")), default=None),
    },
)


def _section(fields: dict[str, Field]) -> Field:
    return Field(Record(cls=dict, fields=fields), default=SECTION_DEFAULTS)


SECTION = _section(
    {
        # null: build.yaml's service: (binary, port, health) — one description of the app.
        "binary": Field(Nullable(Str()), default=None),
        # null: strict when the app takes its listener from systemd (service.socket_activation), else hardened.
        "profile": Field(Nullable(Str(choices=PROFILES)), default=None),
        # A name from the top-level `environments:` section (buildlib.environments).
        "environment": Field(Str(), default="prod"),
        "port": Field(Nullable(_PORT), default=None),
        # hardened: the second instance's port while the first serves (null: service.port + 1).
        "second_port": Field(Nullable(_PORT), default=None),
        # hardened: where the app may connect besides loopback (its database), as IP prefixes.
        "allow_outbound": Field(ListOf(Str(check=prefix_problem, what="an IP prefix")), factory=list),
        "domain": Field(Str(check=hostname_problem, what="a domain name"), default="localhost"),
        "user": Field(
            Nullable(Str(pattern=r"[a-z_][a-z0-9_-]{0,31}", pattern_help="a Unix user name")), default=None
        ),
        "paths": _section(
            {
                # null: derived from project.name (/opt/<name>, conf.d/<name>.conf)
                "base": Field(Nullable(_PATH), default=None),
                "units": Field(_PATH, default="/etc/systemd/system"),
                "nginx_site": Field(Nullable(_PATH), default=None),
            }
        ),
        "http_port": Field(_PORT, default=80),
        "ipv6": Field(Bool(), default=True),
        "https_port": Field(_PORT, default=443),
        "tls": _section(
            {
                "enabled": Field(Bool(), default=False),
                "certificate": Field(Nullable(_PATH), default=None),
                "certificate_key": Field(Nullable(_PATH), default=None),
            }
        ),
        "static_max_age": Field(Str(pattern=r"[0-9]+[smhdwMy]?", pattern_help="an nginx time like 1h or 7d"),
                                default="1h"),
        "secrets": _section(
            {
                "names": Field(ListOf(Str(pattern=_ENV_NAME, pattern_help="an environment variable name")),
                               factory=list),
                "file": Field(Nullable(_LOCAL_PATH), default=None),
            }
        ),
        "health": _section(
            {
                "path": Field(Nullable(Str(pattern=r"/[A-Za-z0-9._/-]*", pattern_help="an URL path like /readyz")),
                              default=None),
                # A route answering JSON with "version": the gate then also checks that the new
                # release is the one answering. null: the app has none; health alone gates.
                "version": Field(Nullable(Str(pattern=r"/[A-Za-z0-9._/-]*",
                                              pattern_help="an URL path like /version")), default=None),
                "timeout": Field(Number(min=1), default=30),
                "interval": Field(Number(min=0.1), default=1),
                "passes": Field(Int(min=1, max=20), default=2),
            }
        ),
        "security": _section(
            {
                "hardened": Field(Number(min=0), default=1.5),
                "strict": Field(Number(min=0), default=0.5),
            }
        ),
        # After each batch's HTTP gate: these alerts (of monitoring:) must stay silent on its hosts.
        "alert_gate": _section(
            {
                "prometheus": Field(Nullable(Str(pattern=r"https?://\S+", pattern_help="the Prometheus URL, such "
                                                 "as http://prometheus.internal:9090")), default=None),
                "alerts": Field(ListOf(Str()), factory=list),
                "quiet": Field(Number(min=1), default=60),
            }
        ),
        "keep_releases": Field(Int(min=2, max=100), default=3),
        "batch": Field(Int(min=1, max=1000), default=1),
        "ssh": _section(
            {
                "known_hosts": Field(Nullable(_LOCAL_PATH), default="~/.ssh/known_hosts"),
                "strict_host_keys": Field(Bool(), default=True),
                "connect_timeout": Field(Number(min=1), default=10),
            }
        ),
        "hosts": Field(MapOf(_HOST), factory=dict),
        "groups": Field(MapOf(ListOf(Str(), min_len=1)), factory=dict),
    }
)
