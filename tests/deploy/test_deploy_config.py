"""The deploy section of build.yaml: a bad port, domain or path is a config error naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildlib import ConfigError, config
from buildlib.deploy import settings
from buildlib.errors import InputError
from tests.helpers.support import REPO, run_invoke

TEMPLATE = (REPO / "build.yaml").read_text()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for pkg in ("cmd/server", "cmd/healthcheck", "internal/version"):
        (tmp_path / pkg).mkdir(parents=True)
    (tmp_path / "deploy").symlink_to(REPO / "deploy")
    (tmp_path / "build.yaml").write_text(TEMPLATE)
    return tmp_path


def edit(tree: Path, old: str, new: str) -> int:
    """Replace ``old`` (one line of the template) with ``new``; return its line number."""
    assert TEMPLATE.count(old) == 1, old
    (tree / "build.yaml").write_text(TEMPLATE.replace(old, new))
    return TEMPLATE[: TEMPLATE.index(old)].count("\n") + 1


def test_the_template_describes_a_fleet() -> None:
    cfg = settings.load(config.load(REPO / "build.yaml"))
    assert list(cfg.hosts) == ["web1", "web2", "web3"]
    assert cfg.groups == {"web": ("web1", "web2", "web3")}
    assert cfg.hosts["web3"].platform == "linux/arm64"
    assert (cfg.port, cfg.profile, cfg.keep_releases, cfg.batch) == (8080, "strict", 3, 1)
    assert cfg.security == {"hardened": 1.5, "strict": 0.5}
    # The guide's table, from the shared environments section.
    assert {n: cfg.environments[n].values["LOG_LEVEL"] for n in ("dev", "test", "prod")} == {
        "dev": "debug", "test": "info", "prod": "error"}


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("  environment: prod ", "  port: 80800\n  environment: prod ", "deploy.port",
         "80800 is out of range; allowed: an integer >= 1 and <= 65535"),
        ("  environment: prod ", "  port: http\n  environment: prod ", "deploy.port",
         'expected a TCP port (1-65535), got string "http"'),
        ("  domain: ginsvc.example.com", "  domain: -ginsvc.example.com", "deploy.domain",
         '"-ginsvc.example.com": each dot-separated label needs 1 to 63 letters, digits or \'-\', '
         "not starting or ending with '-'"),
        ("  domain: ginsvc.example.com", "  domain: ginsvc example.com", "deploy.domain",
         '"ginsvc example.com": each dot-separated label needs'),
        ("    base: /opt/ginsvc ", "    base: opt/ginsvc ", "deploy.paths.base",
         '"opt/ginsvc": must be an absolute path below / such as /opt/ginsvc'),
        ("    base: /opt/ginsvc ", "    base: /opt/../etc ", "deploy.paths.base",
         "\"/opt/../etc\": no empty, '.' or '..' parts"),
        ("    nginx_site: /etc/nginx/conf.d/ginsvc.conf", "    nginx_site: /etc/nginx/conf.d/gin svc.conf",
         "deploy.paths.nginx_site", "may only hold letters, digits and . _ / @ + -"),
        ("    certificate: /etc/ssl/certs/ginsvc.pem", "    certificate: ssl/ginsvc.pem",
         "deploy.tls.certificate", "must be an absolute path"),
        ("platform: linux/arm64}", "platform: darwin/arm64}", "deploy.hosts.web3.platform",
         '"darwin/arm64" is not allowed'),
        ("  keep_releases: 3 ", "  keep_releases: 1 ", "deploy.keep_releases",
         "1 is out of range; allowed: an integer >= 2 and <= 100"),
    ],
)
def test_bad_values_name_their_line(tree: Path, old: str, new: str, key: str, problem: str) -> None:
    line = edit(tree, old, new)
    with pytest.raises(ConfigError) as caught:
        config.load(tree / "build.yaml")
    assert (caught.value.line, caught.value.key) == (line, key)
    assert problem in caught.value.problem


def test_the_task_reports_the_line_and_exits_2(tree: Path) -> None:
    line = edit(tree, "  environment: prod ", "  port: 0\n  environment: prod ")
    done = run_invoke("-r", str(REPO), "deploy.render", "--out", str(tree / "out"), cwd=tree)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: build.yaml:{line}: deploy.port: 0 is out of range; allowed: "
                                   "an integer >= 1 and <= 65535")


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("    web: [web1, web2, web3]", "    web: [web1, web4]", "deploy.groups.web[1]",
         '"web4" is not in deploy.hosts; known hosts: web1, web2, web3'),
        ("  environment: prod ", "  environment: staging ", "deploy.environment",
         '"staging" is not in the environments section; defined: dev, test, prod'),
        # One description of the app: the deploy may not name another binary or port than service: does.
        ("  binary: server                #", "  binary: worker                #", "deploy.binary",
         '"worker" disagrees with service.binary ("server"); leave deploy.binary out so both say the same'),
        ("  environment: prod ", "  port: 9090\n  environment: prod ", "deploy.port",
         "9090 disagrees with service.port (8080), where the app listens: the unit and nginx would send traffic "
         "to a port nothing serves; leave deploy.port out"),
        ("  environment: prod ", "  second_port: 80\n  environment: prod ", "deploy.second_port",
         "80 is deploy.http_port too; the second instance needs a port of its own"),
        ("      GIN_MODE: debug", "      GIN_MODE: debug\n      DB_PASSWORD: hunter2",
         "environments.dev.env.DB_PASSWORD",
         "is a secret (deploy.secrets.names): it comes from the deployer's environment or the secrets file, "
         "never from the repository"),
    ],
)
def test_cross_key_mistakes_name_their_line(tree: Path, old: str, new: str, key: str, problem: str) -> None:
    line = edit(tree, old, new) + (1 if "DB_PASSWORD" in new else 0)
    with pytest.raises(ConfigError) as caught:
        settings.load(config.load(tree / "build.yaml"))
    assert (caught.value.line, caught.value.key, caught.value.problem) == (line, key, problem)


def _line_of(text: str, prefix: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


def test_a_profile_that_cannot_run_the_app_is_refused(tree: Path) -> None:
    # An app that takes no listener from systemd cannot run under the strict profile build.yaml asks for.
    edit(tree, "  socket_activation: true #", "  socket_activation: false #")
    with pytest.raises(ConfigError) as caught:
        settings.load(config.load(tree / "build.yaml"))
    assert (caught.value.line, caught.value.key) == (_line_of(TEMPLATE, "  profile: strict"), "deploy.profile")
    assert caught.value.problem == ("strict does not fit this app: it takes no listener from systemd "
                                    "(service.socket_activation: false); use hardened, or leave deploy.profile out")
    # Left out, the profile is the one that fits.
    text = (tree / "build.yaml").read_text().replace("  profile: strict ", "  # profile: strict ")
    (tree / "build.yaml").write_text(text)
    cfg = settings.load(config.load(tree / "build.yaml"))
    assert (cfg.profile, cfg.profiles, cfg.second_port) == ("hardened", ("hardened",), 8081)


def test_an_app_with_a_fixed_port_fits_no_profile(tree: Path) -> None:
    text = TEMPLATE.replace("  socket_activation: true #", "  socket_activation: false #").replace(
        "  port_env: PORT          #", "  port_env: null          #")
    (tree / "build.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        settings.load(config.load(tree / "build.yaml"))
    assert (caught.value.line, caught.value.key) == (_line_of(text, "  port_env: null"), "service.port_env")
    assert caught.value.problem.startswith("is null and service.socket_activation is false: the app's port is "
                                           "fixed in its code, so no zero-downtime profile fits")
    done = run_invoke("-r", str(REPO), "deploy.render", cwd=tree)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "(gin's r.Run() reads PORT) and name it in service.port_env" in done.stderr


def test_a_secrets_file_inside_the_repository_is_refused(tree: Path) -> None:
    (tree / "secrets.env").write_text("DB_PASSWORD=hunter2\n")
    line = edit(tree, "    file: null ", "    file: secrets.env ")
    from buildlib.deploy import secrets

    project = config.load(tree / "build.yaml")
    with pytest.raises(ConfigError, match=rf"build.yaml:{line}: deploy.secrets.file: .*secrets.env is inside the "
                       "repository; keep secrets out of it"):
        secrets.load(project, settings.load(project), environ={})


def test_secrets_come_from_the_environment_then_the_file(tree: Path, tmp_path_factory: pytest.TempPathFactory
                                                        ) -> None:
    from buildlib.deploy import secrets

    outside = tmp_path_factory.mktemp("home") / "secrets.env"
    outside.write_text("# deploy secrets\nexport DB_PASSWORD='from file'\n")
    outside.chmod(0o600)
    edit(tree, "    file: null ", f"    file: {outside} ")
    project = config.load(tree / "build.yaml")
    cfg = settings.load(project)
    assert secrets.load(project, cfg, environ={}) == {"DB_PASSWORD": "from file"}
    assert secrets.load(project, cfg, environ={"DB_PASSWORD": "from env"}) == {"DB_PASSWORD": "from env"}
    outside.write_text("OTHER=1\n")
    with pytest.raises(InputError, match=r"^secret DB_PASSWORD is not set: export DB_PASSWORD=\.\.\. or "
                       rf"add it to {outside}; secrets never come from the repository$"):
        secrets.load(project, cfg, environ={})


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_a_secrets_file_open_to_group_or_others_is_refused(tree: Path, tmp_path_factory: pytest.TempPathFactory,
                                                           mode: int) -> None:
    from buildlib.deploy import secrets

    outside = tmp_path_factory.mktemp("home") / "secrets.env"
    outside.write_text("DB_PASSWORD=hunter2\n")
    outside.chmod(mode)
    edit(tree, "    file: null ", f"    file: {outside} ")
    project = config.load(tree / "build.yaml")
    with pytest.raises(InputError) as caught:
        secrets.load(project, settings.load(project), environ={})
    assert str(caught.value) == (f"{outside} is open to group or others (mode {mode:04o}); a secrets file must be "
                                 f"private to its owner: run `chmod 600 {outside}`")
    assert caught.value.exit_code == 2
    outside.chmod(0o600)
    assert secrets.load(project, settings.load(project), environ={}) == {"DB_PASSWORD": "hunter2"}


@pytest.mark.parametrize("value", ["line one\nline two", "ends with a break\n", "carriage\rreturn", "nul\0byte"])
def test_a_secret_with_a_line_break_names_the_variable(tree: Path, value: str) -> None:
    from buildlib.deploy import secrets

    project = config.load(tree / "build.yaml")
    with pytest.raises(InputError) as caught:
        secrets.load(project, settings.load(project), environ={"DB_PASSWORD": value})
    assert str(caught.value) == ("secret DB_PASSWORD (from the deployer's environment) contains a line break or NUL; "
                                 "the environment file holds one line per variable: put it on one line (e.g. "
                                 "base64-encode a key)")
    assert caught.value.exit_code == 2


def test_deploy_render_help_prints_help_and_renders_nothing(tree: Path) -> None:
    done = run_invoke("-r", str(REPO), "deploy.render", "--help", cwd=tree)
    assert done.returncode == 0, done.stderr
    assert "Render the systemd units, nginx site and environment file of every profile." in done.stdout
    assert "-o STRING, --out=STRING" in done.stdout
    assert sorted(p.name for p in tree.iterdir()) == ["build.yaml", "cmd", "deploy", "internal"]


def test_deploy_render_without_out_renders_under_build(tree: Path) -> None:
    done = run_invoke("-r", str(REPO), "deploy.render", cwd=tree)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rendered into .build/deploy-render\n"), done.stdout
    assert sorted(p.name for p in (tree / ".build" / "deploy-render").iterdir()) == ["hardened", "strict"]
    assert (tree / ".build" / "deploy-render" / "strict" / "ginsvc.service").is_file()


def test_deploy_render_refuses_an_option_as_its_directory(tree: Path) -> None:
    done = run_invoke("-r", str(REPO), "deploy.render", "--out", "--hepl", cwd=tree)
    assert done.returncode == 2
    assert done.stderr == ('error: --out "--hepl" looks like an option, not a directory; see `invoke '
                           "deploy.render --help`, or write ./--hepl for a directory of that name\n")
    assert not (tree / "--hepl").exists()


@pytest.mark.parametrize(("alerts", "key", "problem"), [
    ("[]", "deploy.alert_gate.alerts",
     "is empty; name the alerts that must stay silent after each batch (an empty list never means all): "
     "GinsvcLatencyP95High, GinsvcErrorRateHigh, GinsvcGcPauseLong, GinsvcDown, GinsvcRestarting"),
    ("[GinsvcLatency]", "deploy.alert_gate.alerts[0]",
     '"GinsvcLatency" is not an alert of the monitoring rules (`invoke monitor.render`); they are: '
     "GinsvcLatencyP95High, GinsvcErrorRateHigh, GinsvcGcPauseLong, GinsvcDown, GinsvcRestarting"),
])
def test_an_alert_gate_names_real_alerts(tree: Path, alerts: str, key: str, problem: str) -> None:
    text = TEMPLATE.replace("    prometheus: null ", "    prometheus: http://127.0.0.1:9090 ").replace(
        "    alerts: []\n    quiet: 60", f"    alerts: {alerts}\n    quiet: 60")
    (tree / "build.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        settings.load(config.load(tree / "build.yaml"))
    assert (caught.value.key, caught.value.problem) == (key, problem)
