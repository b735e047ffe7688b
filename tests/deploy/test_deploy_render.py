"""deploy.render and deploy.check: the files a host gets, checked by systemd-analyze and nginx -t."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from buildlib.deploy import check
from tests.helpers.support import REPO, run_invoke

# The unit of the guide this template replaces, as the guide writes it.
GUIDE_UNIT = """[Unit]
Description=Gin Application
After=network.target
[Service]
User=www-data
ExecStart=/path/to/bin/app
Restart=always
Environment=PORT=8080
[Install]
WantedBy=multi-user.target
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    done = run_invoke("deploy.render", "--out", str(out), env={"DB_PASSWORD": "must-not-appear"})
    assert done.returncode == 0, done.stderr
    return out


def test_render_writes_both_profiles(rendered: Path) -> None:
    files = {str(p.relative_to(rendered)): stat.S_IMODE(p.stat().st_mode) for p in rendered.rglob("*")
             if p.is_file()}
    assert files == {
        "strict/ginsvc.service": 0o644, "strict/ginsvc.socket": 0o644, "strict/nginx-site.conf": 0o644,
        "strict/ginsvc.env": 0o600,
        "hardened/ginsvc@.service": 0o644, "hardened/nginx-site.conf": 0o644, "hardened/ginsvc.env": 0o600,
    }


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if re.match(r"^[A-Za-z]+=", line):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("profile", ["strict", "hardened"])
def test_units_are_hardened(rendered: Path, profile: str) -> None:
    unit = _directives((rendered / profile / ("ginsvc.service" if profile == "strict" else "ginsvc@.service"))
                       .read_text())
    # strict: one service behind its socket; hardened: an instance per port, each running ports/PORT's release.
    release = "/opt/ginsvc/current" if profile == "strict" else "/opt/ginsvc/ports/%i"
    for key, value in {
        "DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "Restart": "always",
        "StartLimitBurst": "5", "StartLimitIntervalSec": "60", "MemoryDenyWriteExecute": "yes",
        "ExecStart": f"{release}/server", "EnvironmentFile": f"{release}/ginsvc.env", "WorkingDirectory": release,
    }.items():
        assert unit[key] == [value], key
    assert unit["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    if profile == "strict":
        assert unit["PrivateNetwork"] == ["yes"] and unit["RestrictAddressFamilies"] == ["AF_UNIX"]
        assert unit["Requires"] == ["ginsvc.socket"]
        socket = _directives((rendered / profile / "ginsvc.socket").read_text())
        assert socket["ListenStream"] == ["127.0.0.1:8080"]
    else:
        assert "PrivateNetwork" not in unit
        assert unit["IPAddressAllow"] == ["localhost"]
        assert unit["Environment"] == ["PORT=%i"]
        # The file must not set the port: EnvironmentFile= would win over the instance's Environment=.
        env = (rendered / profile / "ginsvc.env").read_text().splitlines()
        assert not [line for line in env if line.startswith("PORT=")]
        site = (rendered / profile / "nginx-site.conf").read_text()
        assert "    include /opt/ginsvc/upstream.conf;" in site.splitlines()
        assert "server 127.0.0.1:8080" not in site


def test_nginx_site_proxies_with_headers_and_limits(rendered: Path) -> None:
    site = (rendered / "strict" / "nginx-site.conf").read_text()
    for line in [
        "server 127.0.0.1:8080 max_fails=0;", "keepalive 32;", "server_tokens off;", "server_name ginsvc.example.com;",
        "proxy_set_header Host $host;", "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;", 'proxy_set_header Connection "";',
        "proxy_connect_timeout 5s;", "proxy_read_timeout 30s;", "proxy_next_upstream error timeout;",
        "gzip on;", "location /static/ {", "expires 1h;", 'add_header X-Content-Type-Options "nosniff" always;',
        'add_header X-Frame-Options "DENY" always;', "location = /metrics {", "deny all;",
    ]:
        assert line in site.splitlines() or f"    {line}" in site or f"        {line}" in site, line
    assert "ssl" not in site  # TLS is off in the template
    # The security headers are repeated in /static/, whose add_header replaces the server's.
    assert site.count('add_header X-Frame-Options "DENY" always;') == 2


@pytest.mark.parametrize(
    ("env", "values"),
    [("dev", ["API_TIMEOUT_MS=5000", "ENABLE_CACHE=false", "LOG_LEVEL=debug"]),
     ("test", ["API_TIMEOUT_MS=3000", "ENABLE_CACHE=true", "LOG_LEVEL=info"]),
     ("prod", ["API_TIMEOUT_MS=2000", "ENABLE_CACHE=true", "LOG_LEVEL=error"])],
)
def test_environment_file_has_the_guides_values_and_no_secret(tmp_path: Path, env: str, values: list[str]) -> None:
    done = run_invoke("deploy.render", "--out", str(tmp_path), "--env", env, env={"DB_PASSWORD": "hunter2"})
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "strict" / "ginsvc.env").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert [v for v in lines if v.split("=")[0] in ("API_TIMEOUT_MS", "ENABLE_CACHE", "LOG_LEVEL")] == values
    assert "PORT=8080" in lines and "LISTEN_ADDR=127.0.0.1" in lines
    assert "hunter2" not in text
    assert "# DB_PASSWORD: secret, added at deploy time from the deployer's environment or secrets file" in text


def test_check_passes_with_the_exposure_scores(rendered: Path) -> None:
    done = run_invoke("deploy.check", "--dir", str(rendered))
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.search(r"^ok   strict +ginsvc\.service +exposure +0\.[0-5] SAFE \(threshold 0\.5", done.stdout, re.M)
    assert re.search(r"^ok   hardened +ginsvc@\.service +exposure +(0\.\d|1\.[0-5]) (SAFE|OK) \(threshold 1\.5",
                     done.stdout, re.M)
    assert sum(" systemd-analyze verify " in line and line.startswith("ok") for line in lines) == 2
    assert sum(" nginx -t " in line and line.startswith("ok") for line in lines) == 2


def test_the_guides_unit_scores_unsafe_and_fails_the_check(rendered: Path, tmp_path: Path) -> None:
    guide = tmp_path / "gin-app.service"
    guide.write_text(GUIDE_UNIT)
    score, rating, _ = check.exposure(guide)
    assert (score, rating) == (9.2, "UNSAFE")

    import shutil

    broken = tmp_path / "rendered"
    shutil.copytree(rendered, broken)
    (broken / "hardened" / "ginsvc@.service").write_text(GUIDE_UNIT.replace("/path/to/bin/app",
                                                                           "/opt/ginsvc/ports/%i/server"))
    done = run_invoke("deploy.check", "--dir", str(broken))
    assert done.returncode == 1
    assert "FAIL hardened  ginsvc@.service  exposure                 9.2 UNSAFE (threshold 1.5, " \
           "deploy.security.hardened)" in done.stderr
    assert done.stderr.strip().endswith("Fix deploy/*.j2 or the thresholds in build.yaml deploy.security, then "
                                        "rerun `invoke deploy.check`")


def test_check_reports_what_nginx_and_systemd_reject(rendered: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "rendered"
    shutil.copytree(rendered, bad)
    site = bad / "strict" / "nginx-site.conf"
    site.write_text(site.read_text().replace("keepalive 32;", "keepalive;"))
    unit = bad / "hardened" / "ginsvc@.service"
    unit.write_text(unit.read_text().replace("ExecStart=/opt/ginsvc/ports/%i/server", "ExecStart=/opt/ginsvc/nope"))
    done = run_invoke("deploy.check", "--dir", str(bad))
    assert done.returncode == 1
    assert re.search(r"FAIL strict +nginx-site\.conf +nginx -t +.*invalid number of arguments in \"keepalive\"",
                     done.stderr)
    assert re.search(r"FAIL hardened +ginsvc@\.service +systemd-analyze verify +.*/opt/ginsvc/nope is not executable",
                     done.stderr)


def test_tls_site_redirects_and_passes_nginx(tmp_path: Path) -> None:
    tree = tmp_path / "project"
    for pkg in ("cmd/server", "cmd/healthcheck", "internal/version"):
        (tree / pkg).mkdir(parents=True)
    (tree / "deploy").symlink_to(REPO / "deploy")
    (tree / "build.yaml").write_text((REPO / "build.yaml").read_text().replace(
        "    enabled: false ", "    enabled: true "))
    out = tmp_path / "out"
    assert run_invoke("-r", str(REPO), "deploy.render", "--out", str(out), cwd=tree).returncode == 0
    site = (out / "strict" / "nginx-site.conf").read_text()
    for line in ["listen 443 ssl http2;", "ssl_protocols TLSv1.2 TLSv1.3;", "ssl_prefer_server_ciphers off;",
                 "ssl_session_tickets off;", "ssl_certificate /etc/ssl/certs/ginsvc.pem;",
                 "ssl_certificate_key /etc/ssl/private/ginsvc.key;", "return 301 https://$host$request_uri;",
                 'add_header Strict-Transport-Security "max-age=63072000" always;']:
        assert line in site, line
    done = run_invoke("-r", str(REPO), "deploy.check", "--dir", str(out), cwd=tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checked with a throw-away self-signed pair" in done.stdout


def test_a_named_service_user_replaces_the_dynamic_one(tmp_path: Path) -> None:
    tree = tmp_path / "project"
    for pkg in ("cmd/server", "cmd/healthcheck", "internal/version"):
        (tree / pkg).mkdir(parents=True)
    (tree / "deploy").symlink_to(REPO / "deploy")
    (tree / "build.yaml").write_text((REPO / "build.yaml").read_text().replace(
        "  environment: prod ", "  user: ginsvc\n  environment: prod "))
    out = tmp_path / "out"
    assert run_invoke("-r", str(REPO), "deploy.render", "--out", str(out), cwd=tree).returncode == 0
    unit = _directives((out / "strict" / "ginsvc.service").read_text())
    assert (unit["User"], unit["Group"], "DynamicUser" in unit) == (["ginsvc"], ["ginsvc"], False)
    score, rating, _ = check.exposure(out / "strict" / "ginsvc.service")
    assert score <= 0.5, rating


def test_what_a_real_app_needs_fits_the_hardened_score(tmp_path: Path) -> None:
    """Writable directories and a database to reach: the hardened unit allows them and stays at 1.5 or less."""
    tree = tmp_path / "project"
    for pkg in ("cmd/server", "cmd/healthcheck", "internal/version"):
        (tree / pkg).mkdir(parents=True)
    (tree / "deploy").symlink_to(REPO / "deploy")
    text = (REPO / "build.yaml").read_text()
    text = text.replace("  environment: prod ", "  allow_outbound: [10.0.5.0/24]\n  environment: prod ")
    text = text.replace("  writable: []  ", "  writable: [logs, data/cache]  ")
    (tree / "build.yaml").write_text(text)
    out = tmp_path / "out"
    assert run_invoke("-r", str(REPO), "deploy.render", "--out", str(out), cwd=tree).returncode == 0
    unit = _directives((out / "hardened" / "ginsvc@.service").read_text())
    assert unit["StateDirectory"] == ["ginsvc/logs ginsvc/data/cache"]
    assert unit["IPAddressAllow"] == ["localhost 10.0.5.0/24"] and unit["IPAddressDeny"] == ["any"]
    score, _, _ = check.exposure(out / "hardened" / "ginsvc@.service")
    assert score <= 1.5
    # The strict profile's 0.5 comes from having no network at all; a database ends that, and the
    # check says so with what costs most.
    done = run_invoke("-r", str(REPO), "deploy.check", "--dir", str(out), cwd=tree)
    assert done.returncode == 1
    assert re.search(r"FAIL strict +ginsvc\.service +exposure +1\.\d OK \(threshold 0\.5, deploy\.security\.strict\); "
                     r"costs most: PrivateNetwork= 0\.5, ", done.stderr), done.stderr
    assert re.search(r"^ok   hardened +ginsvc@\.service +exposure ", done.stdout, re.M)


def test_a_bad_outbound_address_names_its_line(tmp_path: Path) -> None:
    tree = tmp_path / "project"
    for pkg in ("cmd/server", "cmd/healthcheck", "internal/version"):
        (tree / pkg).mkdir(parents=True)
    text = (REPO / "build.yaml").read_text().replace("  environment: prod ",
                                                     "  allow_outbound: [db.internal]\n  environment: prod ")
    (tree / "build.yaml").write_text(text)
    done = run_invoke("-r", str(REPO), "deploy.render", cwd=tree)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("  allow_outbound"))
    assert done.returncode == 2
    assert done.stderr.strip() == (f'error: build.yaml:{line}: deploy.allow_outbound[0]: "db.internal": an IP '
                                   "address or prefix such as 10.0.5.20 or 10.0.5.0/24 (the filter sees "
                                   "addresses, not names)")
