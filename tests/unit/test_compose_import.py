"""A compose project as the console's model (read by Compose itself) and `import-compose`:
what lands in the stack file, and what never does."""

from __future__ import annotations

import textwrap

import pytest

from console.compose_import import import_compose, stack_from_compose
from console.model import Dependency, HealthCheck
from console.stackfile import StackFileError, load_stack, parse_stack

SECRET = "vextrus_dev_2024"

COMPOSE = textwrap.dedent(
    f"""\
    services:
      postgres:
        image: postgres:15.5
        container_name: vextrus-postgres
        environment:
          POSTGRES_USER: vextrus
          POSTGRES_PASSWORD: {SECRET}
          POSTGRES_DB:
        ports:
          - "5432:5432"
        healthcheck:
          test: ["CMD-SHELL", "pg_isready -U vextrus"]
          interval: 10s
          timeout: 5s
      redis:
        image: redis:7.2.4-alpine
        ports: ["127.0.0.1:6379:6379"]
        healthcheck:
          test: ["CMD", "redis-cli", "ping"]
      zookeeper:
        image: confluentinc/cp-zookeeper:7.5.3
        ports:
          - 2181:2181
        healthcheck:
          test: nc -z localhost 2181
      kafka:
        image: confluentinc/cp-kafka:7.5.3
        depends_on:
          zookeeper:
            condition: service_healthy
        ports:
          - target: 9092
            published: 9093
            protocol: tcp
        environment:
          - KAFKA_BROKER_ID=1
          - KAFKA_ZOOKEEPER_CONNECT=zookeeper:2181
      auth:
        build: ./services/auth
        container_name: vextrus-auth
        depends_on: [postgres, redis]
        ports: ["3001:3001"]
        environment:
          - DATABASE_PASSWORD={SECRET}
          - JWT_SECRET
        healthcheck:
          test: ["CMD-SHELL", "wget -qO- http://localhost:3001/api/v1/health || exit 1"]
          timeout: 10s
      api_gateway:
        image: vextrus/api-gateway:1.0
        depends_on:
          - auth
          - kafka
        ports: ["4000:4000"]
    """
)


@pytest.fixture
def compose_file(tmp_path):
    path = tmp_path / "vextrus-erp" / "docker-compose.yml"
    path.parent.mkdir()
    path.write_text(COMPOSE)
    return path


@pytest.fixture
def imported(compose_file):
    text = import_compose(compose_file)
    return text, parse_stack(text, "imported.toml")


def one(**service):
    """Import a one-service compose document and return that service."""
    return stack_from_compose({"services": {"svc": service}}, "c.yml").services[0]


# --- a realistic file, round-tripped ---------------------------------------------------------


def test_import_round_trips_through_parse_stack(imported):
    text, stack = imported
    # Dependency layers first, then Compose's own order (it sorts by name).
    assert stack.names() == ["postgres", "redis", "zookeeper", "auth", "kafka", "api-gateway"]
    assert stack.project == "vextrus-erp" and stack.name == "vextrus-erp"
    assert text.startswith("# Stack file imported from ")


def test_literal_secrets_never_reach_the_stack_file(imported):
    text, stack = imported
    assert SECRET not in text
    assert set(stack.service("postgres").environment) == {
        "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB",
    }
    assert stack.service("auth").environment == ("DATABASE_PASSWORD", "JWT_SECRET")
    assert stack.service("kafka").environment == ("KAFKA_BROKER_ID", "KAFKA_ZOOKEEPER_CONNECT")


def test_dependencies_in_list_and_mapping_form(imported):
    _, stack = imported
    assert stack.service("kafka").depends_on == ("zookeeper",)
    assert stack.service("auth").depends_on == ("postgres", "redis")
    assert stack.service("api-gateway").depends_on == ("auth", "kafka")


def test_wget_healthcheck_on_a_published_port_becomes_a_host_http_check(imported):
    _, stack = imported
    assert stack.service("auth").checks == (
        HealthCheck(kind="http", port=3001, host="127.0.0.1", path="/api/v1/health",
                    where="host", timeout=10.0),
    )


def test_other_healthchecks_are_dockers_verdict_never_rerun(compose_file):
    from console.compose_import import load_compose_stack
    from console.model import ComposeSource

    stack = load_compose_stack(ComposeSource(files=(str(compose_file),)))
    for name in ("postgres", "redis", "zookeeper"):
        service = stack.service(name)
        assert service.checks == () and service.docker_healthcheck
        assert not service.ready_when_running
    # no healthcheck at all: running is ready, as Compose's service_started has it
    assert stack.service("kafka").ready_when_running


def test_edges_keep_their_compose_condition(compose_file):
    from console.compose_import import load_compose_stack
    from console.model import ComposeSource

    stack = load_compose_stack(ComposeSource(files=(str(compose_file),)))
    assert stack.service("kafka").edges == (Dependency("zookeeper", "service_healthy"),)
    # the short syntax is service_started
    assert stack.service("auth").edges == (Dependency("postgres", "service_started"),
                                           Dependency("redis", "service_started"))


def test_published_host_ports_are_recorded(imported):
    _, stack = imported
    assert stack.service("postgres").ports == (5432,)
    assert stack.service("redis").ports == (6379,)
    assert stack.service("zookeeper").ports == (2181,)
    assert stack.service("kafka").ports == (9093,)  # long syntax: published, not target
    assert stack.service("auth").ports == (3001,)


def test_tiers_and_phases_follow_the_dependency_graph(imported):
    _, stack = imported
    tiers = {s.name: (s.tier, s.phase) for s in stack.services}
    assert tiers == {
        "postgres": ("infrastructure", 0),
        "redis": ("infrastructure", 0),
        "zookeeper": ("infrastructure", 0),
        "kafka": ("infrastructure", 1),
        "auth": ("core", 1),
        "api-gateway": ("core", 2),
    }
    assert stack.phases == {0: "layer 0", 1: "layer 1", 2: "layer 2"}
    assert stack.tiers == ("infrastructure", "core")


def test_compose_names_are_kept_and_container_name_ignored(imported):
    _, stack = imported
    assert stack.service("api-gateway").compose_name == "api_gateway"
    assert stack.service("postgres").compose_name == "postgres"


def test_written_output_loads_as_a_stack_file(compose_file, tmp_path):
    out = tmp_path / "stack.toml"
    out.write_text(import_compose(compose_file))
    assert len(load_stack(out).services) == 6


def test_top_level_name_sets_the_project(tmp_path):
    path = tmp_path / "whatever" / "compose.yaml"
    path.parent.mkdir()
    path.write_text("name: Vextrus_Dev\nservices:\n  web:\n    image: nginx\n")
    stack = parse_stack(import_compose(path), "s.toml")
    assert stack.project == "vextrus_dev"


def test_unquoted_short_ports_are_read_as_compose_reads_them(tmp_path):
    # YAML 1.1 would read 22:22 as the base-60 number 1342; Compose reads a mapping.
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  sftp:\n    image: atmoz/sftp\n    ports:\n      - 22:22\n")
    assert parse_stack(import_compose(path), "s.toml").service("sftp").ports == (22,)


# --- forms, one at a time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        (["3001:3001"], (3001,)),
        (["127.0.0.1:8080:80"], (8080,)),
        (["9000"], (9000,)),
        ([9000], (9000,)),
        (["5432/tcp"], (5432,)),
        (["8000-8002:9000-9002"], (8000, 8001, 8002)),
        (["[::1]:8081:80"], (8081,)),
        (["127.0.0.1::80"], (80,)),
        (["${AUTH_PORT:-3005}:3001"], (3005,)),
        (["${AUTH_PORT}:3001"], (3001,)),
        (["53:53/udp", "53:53/tcp"], (53,)),
        ([{"target": 80, "published": 8080}], (8080,)),
        ([{"target": 80, "published": "8443", "host_ip": "127.0.0.1"}], (8443,)),
        ([{"target": 80}], ()),  # container-only: not a host port
    ],
)
def test_port_syntaxes(ports, expected):
    assert one(image="x", ports=ports).ports == expected


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        (["CMD", "wget", "-qO-", "http://localhost:3001/api/v1/health"],
         HealthCheck(kind="http", port=3001, host="localhost", path="/api/v1/health")),
        (["CMD", "/usr/bin/curl", "-f", "http://127.0.0.1:8080/ping?full=1"],
         HealthCheck(kind="http", port=8080, path="/ping?full=1")),
        ("curl -fsS http://localhost/health || exit 1",
         HealthCheck(kind="http", port=80, host="localhost", path="/health")),
    ],
)
def test_plain_http_healthchecks_on_host_networking_become_host_checks(test, expected):
    service = one(image="x", network_mode="host", healthcheck={"test": test})
    assert service.checks == (expected,) and service.docker_healthcheck


@pytest.mark.parametrize(
    "test",
    [
        ["CMD-SHELL", "wget -qO- http://localhost:3001/health | grep ok"],  # a pipeline
        ["CMD", "curl", "-f", "https://localhost:8443/health"],  # https
        ["CMD", "curl", "-fsS", "-H", "Host: api.local", "http://localhost:80/health"],
        ["CMD", "curl", "-sfXPOST", "http://localhost:80/health"],  # bundled -X
        ["CMD", "wget", "--header=Authorization: Bearer x", "-qO-", "http://localhost/h"],
        ["CMD", "curl", "-u", "admin:pw", "http://localhost:80/health"],
        ["CMD-SHELL", "[ $(wget -qO- http://localhost/health) = ok ]"],
    ],
)
def test_healthchecks_that_are_more_than_a_plain_get_are_left_to_docker(test):
    service = one(image="x", network_mode="host", healthcheck={"test": test})
    assert service.checks == () and service.docker_healthcheck


def test_container_only_port_gets_no_host_probe_a_published_one_does():
    test = ["CMD", "wget", "-qO-", "http://localhost:3001/health"]
    assert one(image="x", healthcheck={"test": test}).checks == ()
    published = one(image="x", healthcheck={"test": test},
                    ports=[{"target": 3001, "published": "13001", "host_ip": "127.0.0.2"}])
    assert published.checks == (
        HealthCheck(kind="http", port=13001, host="127.0.0.2", path="/health"),
    )


@pytest.mark.parametrize(
    "healthcheck",
    [{"test": ["NONE"]}, {"disable": True}, {"interval": "10s"}],
)
def test_disabled_or_absent_healthcheck_gives_no_check(healthcheck):
    assert one(image="x", healthcheck=healthcheck).checks == ()


def test_healthcheck_timeout_durations():
    test = ["CMD", "wget", "-qO-", "http://localhost/health"]
    check = one(image="x", network_mode="host",
                healthcheck={"test": test, "timeout": "1m30s"}).checks[0]
    assert check.timeout == 90.0


def test_environment_forms_keep_names_only():
    assert one(image="x", environment=["A=1", "B", "C="]).environment == ("A", "B", "C")
    assert one(image="x", environment={"A": "1", "B": None}).environment == ("A", "B")


def test_infrastructure_image_with_a_core_dependency_is_core():
    stack = stack_from_compose(
        {"services": {"app": {"build": "."}, "temporal": {"image": "temporalio/auto-setup",
                                                          "depends_on": ["app"]}}},
        "c.yml",
    )
    assert stack.service("temporal").tier == "core"
    assert stack.service("app").tier == "core"


# --- errors name the file ---------------------------------------------------------------------


def test_invalid_yaml_reports_the_line(tmp_path):
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  web:\n    image: nginx\n   ports: [80]\n")
    with pytest.raises(StackFileError) as info:
        import_compose(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4: invalid YAML: ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [  # Compose's own words, one line
        ("- web\n- db\n", "line 1: cannot unmarshal !!seq into cli.named"),
        ("", "empty compose file"),
        ("version: '3'\n", "empty compose file"),
        ("services: {}\n", "not a compose file: no `services:` mapping"),
    ],
)
def test_not_a_compose_file(tmp_path, text, message):
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    with pytest.raises(StackFileError) as info:
        import_compose(path)
    assert str(info.value) == f"{path}: {message}"


def test_missing_compose_file(tmp_path):
    with pytest.raises(StackFileError) as info:
        import_compose(tmp_path / "nope.yml")
    assert str(info.value) == f"{tmp_path / 'nope.yml'}: compose file not found"


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ({"web": {"depends_on": ["postgress"]}, "postgres": {}},
         'c.yml: service "web": depends_on: unknown service "postgress" '
         '(did you mean "postgres"?)'),
        ({"web": {"depends_on": {"db": {"condition": "service_ready"}}}, "db": {}},
         'c.yml: service "web": depends_on.db: condition "service_ready" is not one of '
         "service_started, service_healthy, service_completed_successfully"),
        ({"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}},
         "c.yml: depends_on: dependency cycle: a -> b -> a"),
        ({"api_gateway": {}, "api-gateway": {}},
         'c.yml: services "api_gateway" and "api-gateway" both become "api-gateway"'),
        ({"web": {"ports": ["70000:80"]}},
         'c.yml: service "web": ports: "70000:80": 70000 is outside 1-65535'),
        ({"web": {"healthcheck": {"test": ["RUN", "x"]}}},
         'c.yml: service "web": healthcheck: test: must start with CMD, CMD-SHELL or NONE, '
         'not "RUN"'),
        ({"web": {"healthcheck": {"test": ["CMD", "wget", "http://x/"], "timeout": "soon"}}},
         'c.yml: service "web": healthcheck: timeout "soon" is not a duration like 10s '
         "or 1m30s"),
    ],
)
def test_compose_content_errors(services, message):
    with pytest.raises(StackFileError) as info:
        stack_from_compose({"services": services}, "c.yml")
    assert str(info.value) == message
