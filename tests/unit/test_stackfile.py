"""The stack file: the bundled Vextrus inventory, and the one-line errors an operator reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.model import HealthCheck, find_cycle
from console.stackfile import StackFileError, dump_stack, load_stack, parse_stack

# Seed 002's "Current Service Status Matrix": service -> (port, "Dependencies Met").
MATRIX: dict[str, tuple[int, tuple[str, ...]]] = {
    "postgres": (5432, ()),
    "redis": (6379, ()),
    "kafka": (9093, ("zookeeper",)),
    "zookeeper": (2181, ()),
    "elasticsearch": (9200, ()),
    "temporal": (7233, ("postgres",)),
    "minio": (9000, ()),
    "rabbitmq": (5672, ()),
    "auth": (3001, ("postgres", "redis")),
    "master-data": (3002, ("postgres", "redis", "kafka")),
    "notification": (3003, ("postgres", "redis", "kafka")),
    "audit": (3009, ("postgres", "kafka", "elasticsearch")),
    "rules-engine": (3012, ("postgres", "redis", "kafka")),
    "configuration": (3004, ("postgres", "redis")),
    "workflow": (3011, ("postgres", "redis", "kafka", "temporal")),
    "api-gateway": (4000, ("auth", "master-data", "workflow", "rules-engine")),
    "document-generator": (3006, ("postgres", "redis", "kafka")),
    "file-storage": (3008, ("postgres", "redis", "kafka", "minio")),
    "import-export": (3007, ("postgres", "redis", "kafka")),
    "scheduler": (3005, ("postgres", "redis", "kafka")),
    "organization": (3016, ("postgres", "redis", "kafka")),
    "crm": (3013, ("postgres", "redis", "kafka")),
    "finance": (3014, ("postgres", "redis", "kafka")),
    "hr": (3015, ("postgres", "redis", "kafka")),
    "project-management": (3017, ("postgres", "redis", "kafka")),
    "scm": (3018, ("postgres", "redis", "kafka")),
}
OTHERS = {
    "temporal-ui": (8088,),
    "temporal-admintools": (),
    "traefik": (80, 443, 8080),
    "prometheus": (9090,),
    "grafana": (3000,),
    "jaeger": (16686,),
    "otel-collector": (4317, 4318),
    "signoz-clickhouse": (9100,),
    "signoz-query-service": (),
    "signoz-otel-collector": (),
    "signoz-frontend": (3301,),
}
BUSINESS = [
    "document-generator", "file-storage", "import-export", "scheduler", "organization",
    "crm", "finance", "hr", "project-management", "scm",
]
CORE_WITH_HEALTH = ["auth", "master-data", "notification", "audit", "rules-engine",
                    "configuration"]


@pytest.fixture(scope="module")
def bundled():
    return load_stack(None)


# --- the bundled inventory ----------------------------------------------------------------


def test_bundled_lists_every_service_the_seeds_name(bundled):
    assert len(bundled.services) == 37
    assert set(bundled.names()) == set(MATRIX) | set(OTHERS)
    assert bundled.source == "<bundled>"
    assert bundled.project == "vextrus"


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_bundled_matches_seed_002_status_matrix(bundled, name):
    port, deps = MATRIX[name]
    service = bundled.service(name)
    assert service.ports[0] == port
    assert service.depends_on == deps


def test_bundled_ports_of_the_other_components(bundled):
    for name, ports in OTHERS.items():
        assert bundled.service(name).ports == ports, name
    assert bundled.service("kafka").ports == (9093, 9092)
    assert bundled.service("minio").ports == (9000, 9001)


def test_bundled_graph_is_acyclic_and_phases_follow_dependencies(bundled):
    assert find_cycle(bundled.services) is None
    for service in bundled.services:
        for dep in service.depends_on:
            assert bundled.service(dep).phase <= service.phase, (service.name, dep)


def test_bundled_tiers_and_phases(bundled):
    assert bundled.tier_order() == ["infrastructure", "core", "business", "gateway",
                                    "observability"]
    assert bundled.phases == {0: "infrastructure", 1: "core services", 2: "business services",
                              3: "gateway", 4: "observability"}
    assert bundled.service("auth").tier == "core" and bundled.service("auth").phase == 1
    assert bundled.service("api-gateway").tier == "gateway"
    assert bundled.service("api-gateway").phase == 3
    assert all(bundled.service(n).tier == "business" for n in BUSINESS)
    assert bundled.service("grafana").tier == "observability"


def test_bundled_infrastructure_checks(bundled):
    def only(name: str) -> HealthCheck:
        (check,) = bundled.service(name).checks
        return check

    pg = only("postgres")
    assert (pg.kind, pg.port, pg.password_env) == ("postgres", 5432, "POSTGRES_PASSWORD")
    assert (only("redis").kind, only("redis").port) == ("redis", 6379)
    assert (only("kafka").kind, only("kafka").port) == ("kafka", 9093)
    assert (only("zookeeper").kind, only("zookeeper").port) == ("tcp", 2181)
    assert (only("rabbitmq").kind, only("rabbitmq").port) == ("tcp", 5672)
    es = only("elasticsearch")
    assert (es.kind, es.port, es.path) == ("http", 9200, "/_cluster/health")
    minio = only("minio")
    assert (minio.kind, minio.port, minio.path) == ("http", 9000, "/minio/health/live")
    temporal = only("temporal")
    assert (temporal.kind, temporal.port, temporal.namespace) == ("temporal", 7233, "vextrus")


def test_bundled_application_checks(bundled):
    for name in CORE_WITH_HEALTH:
        first = bundled.service(name).checks[0]
        assert (first.kind, first.path, first.port) == ("http", "/health", MATRIX[name][0])
    for name in BUSINESS:
        (check,) = bundled.service(name).checks
        assert (check.kind, check.path, check.port) == ("http", "/api/v1/health",
                                                        MATRIX[name][0])
    # Seed 002: "No health endpoint" for both.
    assert bundled.service("workflow").checks == ()
    assert bundled.service("api-gateway").checks == ()
    assert bundled.service("workflow").ports == (3011,)


def test_bundled_temporal_settings(bundled):
    assert bundled.temporal is not None
    assert bundled.temporal.namespace == "vextrus"
    assert bundled.temporal.task_queues == ("vextrus-workflows",)
    assert bundled.temporal.address == "127.0.0.1:7233"


def test_bundled_environment_holds_names_only(bundled):
    names = [e for s in bundled.services for e in s.environment]
    assert "POSTGRES_PASSWORD" in names and "JWT_SECRET" in bundled.service("auth").environment
    assert not [e for e in names if "=" in e]


def test_dump_stack_round_trips_the_bundled_inventory(bundled):
    text = dump_stack(bundled, "generated")
    assert text.startswith("# generated\n")
    again = parse_stack(text, "<bundled>")
    assert again == bundled


def test_load_stack_from_a_path_names_the_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[stack]\nname = "mine"\n\n[services.web]\nports = [8080]\n')
    stack = load_stack(path)
    assert stack.source == str(path)
    assert stack.names() == ["web"]
    assert stack.service("web").tier == "core"
    assert stack.project == "mine" and stack.temporal is None


def test_stack_table_is_optional_and_name_defaults_to_the_file(tmp_path):
    path = tmp_path / "Lab Stack.toml"
    path.write_text("[services.web]\n")
    stack = load_stack(path)
    assert stack.name == "Lab Stack"
    assert stack.project == "lab-stack"


# --- errors: one line, file, line number, field, problem -------------------------------------

BAD_FILES = [
    pytest.param(
        '[services.postgres]\nports = [5432]\n\n[services.auth]\ndepends_on = [\n'
        '  "postgress",\n]\n',
        'stack.toml:6: service "auth": depends_on[0]: unknown dependency "postgress" '
        '(did you mean "postgres"?)',
        id="unknown-dependency",
    ),
    pytest.param(
        '[services.a]\ndepends_on = ["b"]\n[services.b]\ndepends_on = ["c"]\n'
        '[services.c]\ndepends_on = ["a"]\n',
        'stack.toml:2: service "a": depends_on: dependency cycle: a -> b -> c -> a',
        id="cycle",
    ),
    pytest.param(
        '[services.a]\n\n[services.b]\ndepends_on = ["b"]\n',
        'stack.toml:4: service "b": depends_on[0]: "b" depends on itself',
        id="self-dependency",
    ),
    pytest.param(
        '[services.a]\nport = 80\n',
        'stack.toml:2: service "a": unknown key "port" (did you mean "ports"?)',
        id="unknown-key-did-you-mean",
    ),
    pytest.param(
        '[services.a]\ncolour = "red"\n',
        'stack.toml:2: service "a": unknown key "colour" (allowed in [service "a"]: tier, '
        'phase, ports, depends_on, description, environment, checks, runtime)',
        id="unknown-key-lists-allowed",
    ),
    pytest.param(
        '[servces.a]\n',
        'stack.toml:1: unknown key "servces" (did you mean "services"?)',
        id="unknown-top-level",
    ),
    pytest.param(
        '[stack]\nname = "x"\n',
        'stack.toml: no [services] table: a stack file must declare at least one service',
        id="missing-services",
    ),
    pytest.param(
        '[services]\n',
        'stack.toml:1: services: [services] is empty: declare at least one service',
        id="empty-services",
    ),
    pytest.param(
        '[services.a]\ntier = "x"\n[services.b]\n[services.a]\nphase = 1\n',
        'stack.toml:4: service "a" is declared twice ([services.a] appears more than once; '
        'service names must be unique)',
        id="duplicate-service",
    ),
    pytest.param(
        '[services.a]\ntier = "x"\ntier = "y"\n',
        'stack.toml:3: key "tier" is set twice (a key may be set only once)',
        id="duplicate-key",
    ),
    pytest.param(
        '[services.a]\ntier = "core\n',
        "stack.toml:2: TOML syntax error: string not closed before the end of the line "
        "(column 13)",
        id="toml-unclosed-string",
    ),
    pytest.param(
        '[services.a]\nports = [80\ntier = "x"\n',
        "stack.toml:3: TOML syntax error: Unclosed array (column 1)",
        id="toml-syntax",
    ),
    pytest.param(
        '[services.Auth_Service]\n',
        'stack.toml:1: service "Auth_Service": invalid service name: use lowercase letters, '
        "digits and '-', starting with a letter or digit, at most 63 characters",
        id="invalid-name",
    ),
    pytest.param(
        '[services.a]\nports = [80,\n  70000]\n',
        'stack.toml:3: service "a": ports[1]: port 70000 is outside 1-65535',
        id="port-out-of-range",
    ),
    pytest.param(
        '[services.a]\nports = ["3001"]\n',
        'stack.toml:2: service "a": ports[0]: expected an integer 1-65535, got string "3001"',
        id="port-not-int",
    ),
    pytest.param(
        '[services.a]\nports = 3001\n',
        'stack.toml:2: service "a": ports: expected an array, got integer 3001',
        id="ports-not-array",
    ),
    pytest.param(
        '[services.a]\ntier = 5\n',
        'stack.toml:2: service "a": tier: expected a string, got integer 5',
        id="wrong-type",
    ),
    pytest.param(
        '[services.a]\nphase = -1\n',
        'stack.toml:2: service "a": phase: must be >= 0, got -1',
        id="phase-negative",
    ),
    pytest.param(
        '[services.a]\nphase = true\n',
        'stack.toml:2: service "a": phase: expected an integer >= 0, got boolean true',
        id="phase-bool",
    ),
    pytest.param(
        '[services.db]\nphase = 2\n[services.web]\nphase = 1\ndepends_on = ["db"]\n',
        'stack.toml:5: service "web": depends_on[0]: "db" starts in phase 2, after this '
        'service (phase 1); a dependency must be in the same or an earlier phase',
        id="phase-order",
    ),
    pytest.param(
        '[services.a]\nchecks = [\n  { kind = "http", port = 80 },\n'
        '  { kind = "htp", port = 80 },\n]\n',
        'stack.toml:4: service "a": checks[1].kind: unknown check kind "htp" '
        '(did you mean "http"?)',
        id="unknown-check-kind",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ port = 80 }]\n',
        'stack.toml:2: service "a": checks[0]: check has no kind (one of: http, tcp, postgres, '
        'redis, kafka, temporal, exec)',
        id="check-without-kind",
    ),
    pytest.param(
        '[services.a]\n\n[[services.a.checks]]\nkind = "http"\nport = 80\n\n'
        '[[services.a.checks]]\nkind = "tcp"\n',
        'stack.toml:7: service "a": checks[1]: tcp check has no port',
        id="check-missing-port",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ kind = "http", port = 80, path = "health" }]\n',
        'stack.toml:2: service "a": checks[0].path: "health" must start with "/"',
        id="http-path",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ kind = "tcp", port = 80, path = "/health" }]\n',
        'stack.toml:2: service "a": checks[0].path: applies to http checks only, not to a tcp '
        'check',
        id="field-for-other-kind",
    ),
    pytest.param(
        '[services.a]\n[[services.a.checks]]\nkind = "tcp"\nport = 80\nhost = "db host"\n',
        'stack.toml:5: service "a": checks[0].host: "db host" is not a valid IP address or '
        'hostname',
        id="host-invalid",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ kind = "tcp", port = 80, host = "300.1.1.1" }]\n',
        'stack.toml:2: service "a": checks[0].host: "300.1.1.1" is not a valid IP address or '
        'hostname',
        id="host-bad-ip",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ kind = "tcp", port = 80, timeout = 0 }]\n',
        'stack.toml:2: service "a": checks[0].timeout: must be > 0 seconds, got 0',
        id="timeout-zero",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ kind = "tcp", port = 80, timeout = "5s" }]\n',
        'stack.toml:2: service "a": checks[0].timeout: expected seconds (a number > 0), '
        'got string "5s"',
        id="timeout-string",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ kind = "exec" }]\n',
        'stack.toml:2: service "a": checks[0]: exec check has no command',
        id="exec-without-command",
    ),
    pytest.param(
        '[services.a]\nchecks = [{ kind = "postgres", port = 5432, password = "hunter2" }]\n',
        'stack.toml:2: service "a": checks[0]: unknown key "password": passwords are never '
        'stored; use password_env',
        id="password-refused",
    ),
    pytest.param(
        '[services.a]\nenvironment = ["A", "DB_PASSWORD=hunter2"]\n',
        'stack.toml:2: service "a": environment[1]: names only, never values: write '
        '"DB_PASSWORD"',
        id="environment-value-refused",
    ),
    pytest.param(
        '[stack]\ntiers = ["core", "edge"]\n[services.a]\ntier = "cor"\n',
        'stack.toml:4: service "a": tier: unknown tier "cor" (did you mean "core"?) '
        '(stack.tiers: core, edge)',
        id="tier-not-declared",
    ),
    pytest.param(
        '[stack.phases]\n0 = "infra"\nlast = "gateway"\n[services.a]\n',
        'stack.toml:3: stack.phases.last: phase "last" must be a whole number >= 0',
        id="phase-label-key",
    ),
    pytest.param(
        '[stack.temporal]\naddress = "localhost"\n[services.a]\n',
        'stack.toml:2: stack.temporal.address: "localhost" must be host:port, e.g. '
        '"127.0.0.1:7233"',
        id="temporal-address",
    ),
    pytest.param(
        '[services.a]\nruntime = { k8s = "deploymnt/a" }\n',
        'stack.toml:2: service "a": runtime.k8s: unknown workload kind "deploymnt" '
        '(did you mean "deployment"?) (use deployment/NAME, statefulset/NAME or a plain NAME)',
        id="k8s-kind",
    ),
    pytest.param(
        '[services.a]\nports = [80, 80]\n',
        'stack.toml:2: service "a": ports[1]: port "80" is listed twice',
        id="duplicate-port",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_stack_file_gives_one_exact_line(text, message):
    with pytest.raises(StackFileError) as info:
        parse_stack(text, "stack.toml")
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_value_of_a_refused_secret_is_never_echoed():
    for text in ('[services.a]\nenvironment = ["DB_PASSWORD=hunter2"]\n',
                 '[services.a]\nchecks = [{ kind = "redis", port = 1, password = "hunter2" }]\n'):
        with pytest.raises(StackFileError) as info:
            parse_stack(text, "stack.toml")
        assert "hunter2" not in str(info.value)


def test_error_carries_source_line_and_problem():
    with pytest.raises(StackFileError) as info:
        parse_stack('[services.a]\n\nports = [0]\n', "x.toml")
    assert (info.value.source, info.value.line) == ("x.toml", 3)
    assert info.value.problem == 'service "a": ports[0]: port 0 is outside 1-65535'


def test_line_numbers_ignore_lookalikes_in_strings_and_comments():
    text = (
        '[services.a]\n'
        '# ports = [1]\n'
        'description = """\n'
        'ports = [2]\n'
        '"""\n'
        'ports = ["x"]\n'
    )
    with pytest.raises(StackFileError, match=r"^s\.toml:6: "):
        parse_stack(text, "s.toml")


def test_inline_services_table_is_located_too():
    with pytest.raises(StackFileError) as info:
        parse_stack('[services]\nweb = { ports = [80] }\napi = { ports = [1, 2, "x"] }\n', "s.toml")
    assert str(info.value) == (
        's.toml:3: service "api": ports[2]: expected an integer 1-65535, got string "x"'
    )


def test_load_stack_names_the_file_in_errors(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[services.auth]\ndepends_on = ["redis"]\n')
    with pytest.raises(StackFileError) as info:
        load_stack(path)
    assert str(info.value) == f'{path}:2: service "auth": depends_on[0]: unknown dependency "redis"'


def test_unreadable_files_raise_stack_file_error(tmp_path):
    with pytest.raises(StackFileError) as info:
        load_stack(tmp_path / "missing.toml")
    assert str(info.value) == f"{tmp_path / 'missing.toml'}: file not found"
    with pytest.raises(StackFileError, match="is a directory"):
        load_stack(tmp_path)
    latin = tmp_path / "latin1.toml"
    latin.write_bytes(b'[services.a]\ndescription = "caf\xe9"\n')
    with pytest.raises(StackFileError) as info:
        load_stack(latin)
    assert str(info.value) == f"{latin}:2: not UTF-8 text"


def test_check_fields_become_a_health_check():
    stack = parse_stack(
        '[services.api]\nports = [8080]\nchecks = [\n'
        '  { kind = "http", port = 8080, path = "/ready", where = "inside", timeout = 5,'
        ' expect_status = 204 },\n'
        '  { kind = "exec", command = ["wget", "-qO-", "http://127.0.0.1:8080/"] },\n]\n'
        'runtime = { compose = "api-svc", k8s = "deployment/api", local = ["node", "main.js"] }\n',
        "s.toml",
    )
    http, exec_ = stack.service("api").checks
    assert http == HealthCheck(kind="http", port=8080, path="/ready", where="inside",
                               timeout=5.0, expect_status=204)
    assert exec_.command == ("wget", "-qO-", "http://127.0.0.1:8080/")
    assert exec_.where == "inside"  # exec runs in the container unless told otherwise
    runtime = stack.service("api").runtime
    assert (runtime.compose, runtime.k8s, runtime.local) == ("api-svc", "deployment/api",
                                                             ("node", "main.js"))
    assert stack.service("api").compose_name == "api-svc"


# --- hostile shapes and paths: one line, exit 2 -------------------------------------------------

DEEP_TOML = '[stack]\nname = "x"\n\n[services.a]\ntier = "core"\nx = ' + "[" * 5000 + "]" * 5000


def test_5000_deep_toml_is_one_line_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(DEEP_TOML + "\n")
    with pytest.raises(StackFileError) as caught:
        load_stack(path)
    assert str(caught.value) == f"{path}:6: arrays or inline tables nested too deeply"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from cli.main import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("argv", "problem"), [
    (["--stack", "deep.toml", "validate"], "deep.toml:6: arrays or inline tables nested too"),
    (["--stack", "adir", "validate"], "adir: is a directory, not a file"),
    (["--config", "deep.toml", "validate"], "deep.toml: arrays or inline tables nested too"),
    (["--state-dir", "afile", "validate"], "--state-dir afile: afile is a file, not a directory"),
    (["--state-dir", "afile/sub", "secrets", "scan", "compose.yml"],
     "--state-dir afile/sub: afile is a file"),
    (["import-compose", "compose.yml", "-o", "nodir/out.toml"],
     "nodir/out.toml: directory nodir does not exist"),
    (["import-compose", "compose.yml", "-o", "adir"], "adir: is a directory; give a file name"),
    (["import-compose", "bomb.yml"], "bomb.yml:6: invalid YAML: aliases expand to more than"),
    (["import-compose", "adir"], "adir: "),
], ids=["deep-toml", "stack-dir", "deep-config", "state-file", "state-under-file",
        "out-no-dir", "out-dir", "alias-bomb", "compose-dir"])
def test_path_and_shape_errors_are_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        argv: list[str], problem: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.toml").write_text(DEEP_TOML + "\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: busybox\n")
    bomb = ["x-a: &a [A=1, A=1, A=1, A=1, A=1, A=1, A=1, A=1, A=1, A=1]"]
    for name, previous in zip("bcdefgh", "abcdefg", strict=True):
        bomb.append(f"x-{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    bomb.append("services:\n  web:\n    image: busybox\n    environment: *h\n")
    (tmp_path / "bomb.yml").write_text("\n".join(bomb))
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and problem in err, err
    assert "Traceback" not in out + err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "adir", "afile", "bomb.yml", "compose.yml", "deep.toml"]  # nothing half-written
    assert list((tmp_path / "adir").iterdir()) == []


# --- the stack model's own helpers (what the matrix, graph and bring-up order rely on) ---


def test_a_check_describes_itself_as_the_matrix_shows_it() -> None:
    assert HealthCheck("http", port=3001).describe() == "http 127.0.0.1:3001/health"
    assert HealthCheck("http", port=80, path="/ready", where="inside").describe() == \
        "http 127.0.0.1:80/ready (inside)"
    assert HealthCheck("exec", command=("pg_isready", "-q")).describe() == "exec pg_isready -q"
    assert HealthCheck("tcp", host="127.0.0.2", port=5432).describe() == "tcp 127.0.0.2:5432"


def test_edges_default_to_healthy_and_names_to_the_service() -> None:
    from console.model import Dependency, RuntimeNames, Service

    svc = Service("api", depends_on=("db", "cache"),
                  edges=(Dependency("cache", "service_started", required=False),))
    assert svc.edge("db") == Dependency("db", "service_healthy", True, False)
    assert svc.edge("cache").condition == "service_started"
    assert svc.compose_name == "api"
    assert Service("api", runtime=RuntimeNames(compose="api-gw")).compose_name == "api-gw"


def test_stack_lookups_tiers_and_project() -> None:
    from console.model import Service, Stack

    stack = Stack("t", (Service("a", tier="edge"), Service("b", tier="core"),
                        Service("c", tier="extra")), tiers=("core", "edge"))
    assert "a" in stack and "zz" not in stack and 3 not in stack
    assert stack.service("b").tier == "core"
    assert stack.names() == ["a", "b", "c"]
    assert stack.tier_order() == ["core", "edge", "extra"]  # declared first, then as met
    moved = stack.with_project("p2")
    assert (moved.project, moved.names(), moved.tiers) == ("p2", ["a", "b", "c"], stack.tiers)


def test_dependents_transitive_cycles_and_layers() -> None:
    from console.model import Service, dependents_map, topological_layers, transitive

    diamond = [Service("db"), Service("auth", depends_on=("db",)),
               Service("orders", depends_on=("db",)),
               Service("api", depends_on=("auth", "orders", "outside"))]
    reverse = dependents_map(diamond)
    assert reverse["db"] == ["auth", "orders"] and reverse["auth"] == ["api"]
    assert reverse.get("api", []) == []
    assert sorted(transitive("db", reverse)) == ["api", "auth", "orders"]  # api once
    assert len(transitive("db", reverse)) == 3
    assert topological_layers(diamond) == [["db"], ["auth", "orders"], ["api"]]
    assert topological_layers([]) == []
    assert find_cycle(diamond) is None
    loop = [Service("a", depends_on=("b",)), Service("b", depends_on=("c",)),
            Service("c", depends_on=("a",)), Service("d", depends_on=("a",))]
    assert find_cycle(loop) == ["a", "b", "c", "a"]
    assert find_cycle([Service("s", depends_on=("s",))]) == ["s", "s"]


def test_with_project_changes_the_project_and_nothing_else() -> None:
    import dataclasses

    from console.model import ComposeSource, KubernetesSettings, Service, Stack, TemporalSettings

    stack = Stack("erp", (Service("a"),), project="p1", tiers=("core",), phases={0: "infra"},
                  temporal=TemporalSettings("127.0.0.1:7233"), source="s.toml",
                  kubernetes=KubernetesSettings(namespace="erp"),
                  compose=ComposeSource(files=("/x/compose.yml",)))
    moved = stack.with_project("p2")
    assert moved.project == "p2"
    for f in dataclasses.fields(Stack):
        if f.name != "project":
            assert getattr(moved, f.name) == getattr(stack, f.name), f.name


def test_transitive_is_breadth_first_each_once_and_never_the_start() -> None:
    from console.model import transitive

    edges = {"a": ["b", "c"], "b": ["d", "a"], "c": ["d", "e"], "d": ["a"], "e": []}
    assert transitive("a", edges) == ["b", "c", "d", "e"]  # a itself never, d once
    assert transitive("e", edges) == []
    assert transitive("zz", edges) == []


def test_dependents_list_every_service_even_without_dependents() -> None:
    from console.model import Service, dependents_map

    out = dependents_map([Service("db"), Service("api", depends_on=("db", "ext")),
                          Service("web", depends_on=("api", "db"))])
    assert out == {"db": ["api", "web"], "api": ["web"], "web": [], "ext": ["api"]}


def test_find_cycle_returns_the_path_of_the_first_cycle_found() -> None:
    from console.model import Service

    chain = [Service("a", depends_on=("b", "x")), Service("b", depends_on=("c",)),
             Service("c", depends_on=("b",)), Service("x")]
    assert find_cycle(chain) == ["b", "c", "b"]  # not starting at a, which is no part of it
    late = [Service("ok"), Service("p", depends_on=("q",)), Service("q", depends_on=("p",))]
    assert find_cycle(late) == ["p", "q", "p"]  # found after a clean service
    assert find_cycle([Service("a", depends_on=("b",)), Service("b")]) is None
    outside_first = [Service("a", depends_on=("elsewhere", "b")), Service("b", depends_on=("a",))]
    assert find_cycle(outside_first) == ["a", "b", "a"]  # a dependency outside is skipped
