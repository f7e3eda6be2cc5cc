"""`secrets scan` inside one value: what each detector reports and which variable it names.

Guards the per-string detectors of actions/secrets/scan.py as the operator sees them: the
reason in each finding's `describe()` line, the variable `assign_variables` gives each
secret (a URL's password belongs to the server its scheme names, `--requirepass` and
`redis-cli -a` to Redis, `curl -u elastic:x` to ELASTIC_PASSWORD, and a second service with
another value under the same name gets its service-prefixed name), the options that take
no secret, the repeats the reuse pass finds, and where `apply` may rewrite.
"""

from __future__ import annotations

import pytest

from actions.secrets.scan import Finding, assign_variables, scan_compose_text, scan_toml_text


def services(body: str) -> str:
    """A compose file: `body` is the indented text under `services:`."""
    return "services:\n" + body


def findings(body: str) -> list[Finding]:
    return scan_compose_text(services(body), "docker-compose.yml").findings


def described(body: str) -> list[str]:
    return [f.describe() for f in findings(body)]


def variables(body: str) -> list[str]:
    """The variables `generate`/`apply` would use, in the order they list them."""
    return [a.variable for a in assign_variables(findings(body))]


# --- the reason each detector gives ------------------------------------------------------


@pytest.mark.parametrize(("body", "lines"), [
    pytest.param(
        "  temporal-postgres:\n    environment:\n      POSTGRES_PASSWORD: temporal_pg_2024\n",
        ["POSTGRES_PASSWORD (service temporal-postgres): hardcoded secret [te…(16)]"],
        id="literal"),
    pytest.param(
        "  rabbitmq:\n    environment:\n      RABBITMQ_DEFAULT_PASS: guest\n",
        ["RABBITMQ_DEFAULT_PASS (service rabbitmq): hardcoded secret, known default […(5)]"],
        id="known-default"),
    pytest.param(
        "  auth:\n    environment:\n"
        "      DATABASE_URL: postgres://vextrus:auth_db_pw_2024@postgres:5432/vextrus\n",
        ["DATABASE_URL (service auth): password in a URL [au…(15)]"],
        id="url"),
    pytest.param(
        "  auth:\n    environment:\n      RABBITMQ_URL: amqp://vextrus:guest@rabbitmq:5672\n",
        ["RABBITMQ_URL (service auth): password in a URL, known default […(5)]"],
        id="url-known-default"),
    pytest.param(
        "  temporal:\n    healthcheck:\n"
        "      test: [\"CMD-SHELL\", \"PGPASSWORD=temporal_pg_2024 psql -h postgres\"]\n",
        ["PGPASSWORD (service temporal): hardcoded PGPASSWORD=… in a command [te…(16)]"],
        id="inline"),
    pytest.param(
        "  cache:\n    healthcheck:\n      test: redis-cli -a cache_pw_2024 ping\n",
        ["test (service cache): hardcoded secret after redis-cli -a [ca…(13)]"],
        id="redis-cli"),
    pytest.param(
        "  kibana:\n    healthcheck:\n"
        "      test: curl -fs -u elastic:kibana_pw_2024 http://localhost:5601\n",
        ["test (service kibana): hardcoded password after curl -u [ki…(14)]"],
        id="curl-user"),
    pytest.param(
        "  redis:\n    command: redis-server --requirepass redis_dev_2024 --appendonly yes\n",
        ["command (service redis): hardcoded secret after --requirepass [re…(14)]"],
        id="option"),
    pytest.param(
        "  redis:\n    healthcheck:\n"
        "      test: [\"CMD\", \"redis-cli\", \"-a\", \"redis_dev_2024\", \"ping\"]\n",
        ["test (service redis): hardcoded secret after -a [re…(14)]"],
        id="exec-form-option"),
    pytest.param(
        "  minio-init:\n    command: mc alias set local http://minio:9000 minio minio123\n",
        ["command (service minio-init): known default password in a value (review: the key "
         "does not say secret) [m…(8)]"],
        id="default-anywhere"),
    pytest.param(
        "  grafana:\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\",\n"
        "             \"http://admin:grafana_pw_2024@localhost:3000/api/health\"]\n",
        ["test (service grafana): password in a URL [gr…(15)]"],
        id="exec-form-url"),
])
def test_each_finding_says_why_it_counts(body: str, lines: list[str]) -> None:
    assert described(body) == lines


def test_a_referenced_url_does_not_hide_the_next_url_in_the_same_value() -> None:
    body = ("  auth:\n    command: ./wait-for postgres://vextrus:${POSTGRES_PASSWORD}@postgres/db"
            " redis://:redis_dev_2024@redis:6379 -- npm start\n")
    found = findings(body)
    assert [(f.kind, f.value) for f in found] == [("url", "redis_dev_2024")]
    assert variables(body) == ["REDIS_PASSWORD"]


def test_findings_of_one_string_are_listed_in_text_order() -> None:
    """In the stack file, `redis-cli -a` comes before `PGPASSWORD=` on the line, so first."""
    text = ('[services.ops]\ncommand = "redis-cli -a redis_dev_2024 ping && '
            'PGPASSWORD=temporal_pg_2024 psql -h postgres"\n')
    found = scan_toml_text(text, "stack.toml")
    assert [(f.line, f.key, f.reason, f.masked) for f in found] == [
        (2, "command", "hardcoded secret after redis-cli -a", "re…(14)"),
        (2, "PGPASSWORD", "hardcoded PGPASSWORD=… in a command", "te…(16)"),
    ]


# --- which variable each secret becomes ---------------------------------------------------


@pytest.mark.parametrize(("body", "names"), [
    pytest.param("  auth:\n    environment:\n"
                 "      DATABASE_URL: postgres://vextrus:auth_db_pw_2024@postgres:5432/db\n",
                 ["POSTGRES_PASSWORD"], id="postgres-url"),
    pytest.param("  auth:\n    environment:\n"
                 "      ANALYTICS_URL: mysql://root:analytics_2024@mysql:3306/analytics\n",
                 ["ANALYTICS_URL_PASSWORD"], id="unknown-scheme-url"),
    pytest.param("  redis:\n    command: redis-server --requirepass redis_dev_2024\n",
                 ["REDIS_PASSWORD"], id="requirepass"),
    pytest.param("  redis-replica:\n    command: redis-server --masterauth redis_dev_2024\n",
                 ["REDIS_PASSWORD"], id="masterauth"),
    pytest.param("  redis:\n    command: [\"--requirepass\", \"redis_dev_2024\"]\n",
                 ["REDIS_PASSWORD"], id="exec-form-first-argument"),
    pytest.param("  redis:\n    healthcheck:\n"
                 "      test: [\"CMD\", \"redis-cli\", \"-a\", \"redis_dev_2024\", \"ping\"]\n",
                 ["REDIS_PASSWORD"], id="exec-form-redis-cli"),
    pytest.param("  cache:\n    healthcheck:\n      test: redis-cli -a cache_pw_2024 ping\n",
                 ["REDIS_PASSWORD"], id="shell-redis-cli"),
    pytest.param("  kibana:\n    healthcheck:\n"
                 "      test: curl -fs -u elastic:kibana_pw_2024 http://localhost:5601\n",
                 ["ELASTIC_PASSWORD"], id="curl-user"),
    pytest.param("  worker:\n    command: ./worker --api-key k3y_for_the_api_2024\n",
                 ["WORKER_API_KEY"], id="option"),
    pytest.param('  worker:\n    command: ["./worker", "--api-key", "k3y_for_the_api_2024"]\n',
                 ["WORKER_API_KEY"], id="exec-form-option"),
    pytest.param("  worker:\n    command: ./worker --redis-url redis://redis:6379"
                 " --api-key k3y_for_the_api_2024\n",
                 ["WORKER_API_KEY"], id="option-beside-redis"),
    pytest.param("  worker:\n    command: ./worker --X-Api-Key k3y_for_the_api_2024\n",
                 ["WORKER_X_API_KEY"], id="option-name-kept-whole"),
])
def test_each_secret_gets_the_variable_its_place_names(body: str, names: list[str]) -> None:
    assert variables(body) == names


@pytest.mark.parametrize(("body", "names"), [
    pytest.param(
        "  postgres:\n    environment:\n      POSTGRES_PASSWORD: postgres_pw_2024\n"
        "  temporal-postgres:\n    environment:\n      POSTGRES_PASSWORD: temporal_pg_2024\n",
        ["POSTGRES_PASSWORD", "TEMPORAL_POSTGRES_PASSWORD"], id="environment"),
    pytest.param(
        "  postgres:\n    environment:\n      POSTGRES_PASSWORD: postgres_pw_2024\n"
        "  temporal:\n    healthcheck:\n"
        "      test: [\"CMD-SHELL\", \"PGPASSWORD=temporal_pg_2024 psql -h postgres\"]\n",
        ["POSTGRES_PASSWORD", "TEMPORAL_POSTGRES_PASSWORD"], id="inline"),
    pytest.param(
        "  elasticsearch:\n    environment:\n      ELASTIC_PASSWORD: elastic_pw_2024\n"
        "  kibana:\n    healthcheck:\n"
        "      test: curl -fs -u elastic:kibana_pw_2024 http://localhost:5601\n",
        ["ELASTIC_PASSWORD", "KIBANA_ELASTIC_PASSWORD"], id="curl-user"),
    pytest.param(
        "  auth:\n    environment:\n"
        "      ANALYTICS_URL: mysql://root:analytics_2024@mysql:3306/analytics\n"
        "  report:\n    environment:\n"
        "      ANALYTICS_URL: mysql://root:report_pw_2024@mysql:3306/analytics\n",
        ["ANALYTICS_URL_PASSWORD", "REPORT_ANALYTICS_URL_PASSWORD"], id="url"),
    pytest.param(
        "  worker:\n    environment:\n      WORKER_API_KEY: env_api_key_2024\n"
        "    command: ./worker --api-key cli_api_key_2024\n",
        ["WORKER_API_KEY", "API_KEY"], id="option"),
])
def test_another_value_under_a_taken_name_gets_the_service_prefixed_name(
        body: str, names: list[str]) -> None:
    assert variables(body) == names


def test_outside_services_a_taken_name_gets_a_number() -> None:
    """An `x-` block belongs to no service, so there is no prefix to fall back on."""
    body = ("  postgres:\n    environment:\n      POSTGRES_PASSWORD: postgres_pw_2024\n"
            "x-backup:\n  POSTGRES_PASSWORD: backup_pw_2024\n")
    assert variables(body) == ["POSTGRES_PASSWORD", "POSTGRES_PASSWORD_2"]


# --- options that take no secret -------------------------------------------------------------


@pytest.mark.parametrize("body", [
    pytest.param("  db-check:\n    command: [\"psql\", \"-h\", \"postgres\", \"--password\"]\n",
                 id="prompting-option-last"),
    pytest.param("  db-check:\n    command: [\"psql\", \"--password\", \"--host\", \"postgres\"]\n",
                 id="exec-form-option-after-password"),
    pytest.param("  db-check:\n    command: psql --password --host postgres\n",
                 id="shell-option-after-password"),
    pytest.param("  redis:\n    healthcheck:\n"
                 '      test: ["CMD", "redis-cli", "-h", "redis", "-p", "6379", "ping"]\n',
                 id="redis-cli-without-a"),
])
def test_an_option_without_a_secret_argument_is_not_a_finding(body: str) -> None:
    assert findings(body) == []


# --- repeats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("secret", "app", "keys"), [
    pytest.param("vextrus_pg_secret", "command: ./backup.sh BACKUP_AUTH=vextrus_pg_secret",
                 ["POSTGRES_PASSWORD"], id="name-equals-value-in-a-command"),
    pytest.param("vextrus_pg_secret", "command: ./healthcheck --auth=vextrus_pg_secret",
                 ["POSTGRES_PASSWORD"], id="option-equals-value"),
    pytest.param("vextrus_pg_secret", "command: ./healthcheck --auth=vextrus_pg_secretx",
                 [], id="option-equals-longer-value"),
    pytest.param("vextrus=dev=2024", "environment: [LEGACY_DB_AUTH=vextrus=dev=2024]",
                 ["POSTGRES_PASSWORD"], id="value-with-equals-signs"),
    pytest.param("-vextrus-2024", "environment: {OTHER_SETTING: \"-vextrus-2024\"}",
                 ["POSTGRES_PASSWORD"], id="value-starting-with-a-dash"),
    pytest.param("temporal_2024", "environment: [\"PSQL_OPTS=-w -U=temporal_2024\"]",
                 [], id="user-option-in-an-environment-item"),
    pytest.param("temporal_2024", "command: java -Dspring.datasource.username=temporal_2024 "
                 "-jar app.jar", [], id="user-name-property-in-a-command"),
    pytest.param("temporal_2024", "command: ./worker --db-host=temporal_2024", [],
                 id="host-option-in-a-command"),
    pytest.param("temporal_2024", "command: java -Dspring.datasource.password=temporal_2024 "
                 "-jar app.jar", ["POSTGRES_PASSWORD"], id="password-property-in-a-command"),
])
def test_a_repeated_secret_is_found_as_a_whole_value(secret: str, app: str,
                                                     keys: list[str]) -> None:
    body = (f"  db:\n    environment: {{POSTGRES_PASSWORD: \"{secret}\"}}\n"
            f"  app:\n    {app}\n")
    repeats = [f for f in findings(body) if f.line == 5]
    assert [f.key for f in repeats] == keys
    for f in repeats:
        assert f.kind == "reuse"
        assert f.reason == "repeats the secret of POSTGRES_PASSWORD at line 3 (review)"
        assert f.edit is not None
        assert f.edit.node_value[f.edit.start:f.edit.end] == f.value == secret


# --- where apply may rewrite -------------------------------------------------------------------


def test_a_secret_in_a_plain_scalar_folded_over_lines_is_left_for_review() -> None:
    """The raw text differs from the value (a line break reads as a blank): not rewritten."""
    body = ("  redis:\n    command: redis-server --appendonly yes\n"
            "      --requirepass redis_dev_2024\n")
    found = findings(body)
    assert [(f.line, f.key, f.to_dict()["rewritable"]) for f in found] == [
        (3, "command", False)]
    assert variables(body) == []
