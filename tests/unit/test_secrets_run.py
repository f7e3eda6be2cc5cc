"""`secrets scan` end to end: the stack file, discovery, the action's events and naming.

Guards what the operator sees from `secrets scan` beyond one compose file: which files are
picked (a named backup, a directory with sub-folders, `--stack`), what the stack file scan
reports (comments skipped, both TOML string styles, keyless strings), the events and
summary line `SecretsScan.run` yields, and which `${VARIABLE}` names `assign_variables`
gives for `generate`/`apply` (seed names first, shared values shared, no name reused).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from actions.base import CancelToken, Progress
from actions.secrets.policy import SecretsError, mask_value
from actions.secrets.scan import (
    Edit,
    Finding,
    ScanTarget,
    SecretsScan,
    assign_variables,
    discover,
    scan_compose_text,
    scan_target,
    scan_toml_text,
)

STACK = """# Vextrus stack: variable names only
[services.postgres]
  # password = "vextrus_dev_2024" (moved to .env.production)
password_env = "POSTGRES_PASSWORD"
checks = [{ kind = "postgres", port = 5432, password = 'Xq7vLm2pR9zz' }]
"db_password" = "Hn4wTz8kQp2v"
XSRF_TOKEN = "Bw5yRc3nJt6m"
api_key = ''
database_url = "postgres://vextrus:Pq3xMn8rTz5w@postgres:5432/vextrus"
brokers = ["amqp://vextrus:guest@rabbitmq:5672"]
"""


def run_events(action: SecretsScan) -> list[Progress]:
    async def go() -> list[Progress]:
        return [e async for e in action.run(CancelToken())]

    return asyncio.run(go())


def names(compose: str) -> list[tuple[str, list[int]]]:
    """The variables `generate`/`apply` would use for a compose text, with their lines."""
    findings = scan_compose_text(compose, "docker-compose.yml").findings
    return [(a.variable, [f.line for f in a.findings]) for a in assign_variables(findings)]


# --- the stack file -------------------------------------------------------------------------


def test_stack_file_reports_each_string_with_its_key_and_skips_comments() -> None:
    """Comment lines (indented or not) are skipped and later lines still scanned; both
    quote styles count; a quoted key is shown bare; a keyless string is `(string)`."""
    found = scan_toml_text(STACK, "stack.toml")
    assert [(f.path, f.line, f.key, f.kind, f.reason, f.masked) for f in found] == [
        ("stack.toml", 5, "password", "literal", "hardcoded secret", "Xq…(12)"),
        ("stack.toml", 6, "db_password", "literal", "hardcoded secret", "Hn…(12)"),
        ("stack.toml", 7, "XSRF_TOKEN", "literal", "hardcoded secret", "Bw…(12)"),
        ("stack.toml", 9, "database_url", "url", "password in a URL", "Pq…(12)"),
        ("stack.toml", 10, "(string)", "url", "password in a URL, known default", "…(5)"),
    ]
    assert found[3].describe() == "database_url: password in a URL [Pq…(12)]"
    assert [f.value for f in found] == [
        "Xq7vLm2pR9zz", "Hn4wTz8kQp2v", "Bw5yRc3nJt6m", "Pq3xMn8rTz5w", "guest"]


def test_stack_file_empty_literal_string_under_a_secret_name_is_no_finding() -> None:
    assert scan_toml_text("[auth]\napi_key = ''\ntoken = \"\"\n", "stack.toml") == []


def test_stack_file_too_deep_where_no_line_can_be_named_names_the_file() -> None:
    """The nesting locator loses track inside a multi-line string: the message then names
    the file alone, never `file:None`."""
    deep = 'notes = """\nsay "hi\n"""\nx = ' + "[" * 2000 + "]" * 2000 + "\n"
    with pytest.raises(SecretsError,
                       match=r"^s\.toml: refused: arrays or inline tables nested too deeply$"):
        scan_toml_text(deep, "s.toml")


def test_scanning_a_stack_file_target_labels_findings_with_its_path(tmp_path: Path) -> None:
    stack = tmp_path / "vextrus.toml"
    stack.write_text(STACK)
    found = scan_target(ScanTarget(str(stack), "toml", stack))
    assert {f.path for f in found} == {str(stack)}
    assert len(found) == 5


# --- discovery ------------------------------------------------------------------------------


def test_a_named_stack_file_is_the_last_target_and_is_scanned_from_disk(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services: {}\n")
    stack = tmp_path / "vextrus.toml"
    stack.write_text(STACK)
    targets = discover([str(compose)], str(stack))
    last = targets[-1]
    assert (last.label, last.kind, last.path, last.text) == (str(stack), "toml", stack, None)
    action = SecretsScan(targets)
    assert action.plan()[-1].title == f"scan {stack} (toml) for hardcoded secrets"
    events = run_events(action)
    assert [e.step for e in events if e.kind == "info"] == [
        f"{stack}:{n}" for n in (5, 6, 7, 9, 10)]


def test_the_bundled_stack_file_is_planned_as_a_toml_scan(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services: {}\n")
    steps = SecretsScan(discover([str(compose)], None)).plan()
    assert [s.title for s in steps] == [
        f"scan {compose} (compose) for hardcoded secrets",
        "scan <bundled stack file> (toml) for hardcoded secrets",
    ]


@pytest.mark.parametrize(("name", "kind"), [
    ("docker-compose.yml.bak", "compose"),
    ("..env.0123456789ab.tmp", "env"),  # console.fileio's temporary of `.env`
    ("prod.env.bak", "env"),
])
def test_a_copy_named_on_the_command_line_is_scanned_as_the_file_it_copies(
        tmp_path: Path, name: str, kind: str) -> None:
    copy = tmp_path / name
    copy.write_text("POSTGRES_PASSWORD=vextrus_dev_2024\n")
    target = discover([str(copy)], None)[0]
    assert (target.label, target.kind, target.copy) == (str(copy), kind, True)


def test_a_leftover_env_temporary_gets_env_file_findings(tmp_path: Path) -> None:
    temporary = tmp_path / "..env.0123456789ab.tmp"
    temporary.write_text("POSTGRES_PASSWORD=vextrus_dev_2024\n")
    temporary.chmod(0o600)
    found = scan_target(discover([str(temporary)], None)[0])
    assert [f.describe() for f in found] == [
        "POSTGRES_PASSWORD: known default password [ve…(16)]"]


def test_a_named_compose_backup_readable_by_others_is_reported(tmp_path: Path) -> None:
    backup = tmp_path / "docker-compose.yml.bak"
    backup.write_text("services:\n  redis:\n    command: redis-server --requirepass "
                      "Xq7vLm2pR9zz\n")
    backup.chmod(0o644)
    found = scan_target(discover([str(backup)], None)[0])
    assert [(f.line, f.kind) for f in found] == [(3, "flag"), (1, "mode")]
    assert found[-1].describe() == (
        f"(file mode): a copy with secrets readable by group or others (mode 0644): "
        f"chmod 600 {backup}, or delete it [-]")


def test_sub_folders_and_links_do_not_stop_the_directory_listing(tmp_path: Path) -> None:
    (tmp_path / "backups").mkdir()
    (tmp_path / "a.env").symlink_to(tmp_path / "missing")
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "prod.env").write_text("X=1\n")
    labels = [t.label for t in discover([str(tmp_path)], None)]
    assert labels == [str(tmp_path / "docker-compose.yml"), str(tmp_path / "prod.env"),
                      "<bundled stack file>"]


# --- the action -------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "shown"), [
    (1, "a.yml"),
    (3, "a.yml, b.yml, c.yml"),
    (4, "a.yml, b.yml, c.yml…"),
])
def test_the_action_target_names_the_first_three_files(count: int, shown: str) -> None:
    targets = [ScanTarget(f"{c}.yml", "compose", None, "services: {}\n") for c in "abcd"]
    assert SecretsScan(targets[:count]).target == shown


def test_run_reports_each_finding_each_file_and_the_summary(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  postgres:\n    environment:\n"
                       "      POSTGRES_PASSWORD: vextrus_dev_2024\n"
                       "  minio:\n    environment:\n      MINIO_ROOT_PASSWORD: minio123\n")
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=Xq7vLm2pR9zzHn4wTz8kQp2v\n")
    env.chmod(0o600)
    stack = tmp_path / "vextrus.toml"
    stack.write_text('[services.grafana]\nadmin_password = "Hn4wTz8kQp2v"\n')
    action = SecretsScan([ScanTarget(str(compose), "compose", compose),
                          ScanTarget(str(env), "env", env),
                          ScanTarget(str(stack), "toml", stack)])
    events = run_events(action)
    assert [(e.kind, e.step, e.message) for e in events] == [
        ("info", f"{compose}:4",
         "POSTGRES_PASSWORD (service postgres): hardcoded secret, known default [ve…(16)]"),
        ("info", f"{compose}:7",
         "MINIO_ROOT_PASSWORD (service minio): hardcoded secret, known default [m…(8)]"),
        ("failed", str(compose), "2 finding(s)"),
        ("ok", str(env), "no hardcoded secrets"),
        ("info", f"{stack}:2", "admin_password: hardcoded secret [Hn…(12)]"),
        ("failed", str(stack), "1 finding(s)"),
        ("done", "", "3 finding(s) in 2 of 3 file(s)"),
    ]
    assert [e.data for e in events if e.kind == "info"] == [f.to_dict() for f in action.findings]
    assert events[0].data["key"] == "POSTGRES_PASSWORD"
    assert events[-1].data == {"findings": 3}
    assert events[-1].line() == "■ 3 finding(s) in 2 of 3 file(s)"


def test_run_over_clean_files_says_none_of_them_has_findings(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  api:\n    environment:\n"
                       "      JWT_SECRET: ${JWT_SECRET}\n")
    events = run_events(SecretsScan([ScanTarget(str(compose), "compose", compose)]))
    assert [(e.kind, e.message) for e in events] == [
        ("ok", "no hardcoded secrets"), ("done", "0 finding(s) in 0 of 1 file(s)")]


# --- variable names -----------------------------------------------------------------------------


def test_a_url_password_becomes_the_variable_its_scheme_names() -> None:
    assert names("services:\n  auth:\n    environment:\n      DATABASE_URL: "
                 "postgres://vextrus:Xq7vLm2pR9zz@postgres:5432/vextrus\n") == [
        ("POSTGRES_PASSWORD", [4])]


def test_a_shared_value_takes_the_seed_name_and_seed_variables_come_first() -> None:
    compose = ("services:\n"
               "  clickhouse:\n    environment:\n      CLICKHOUSE_PASSWORD: Hn4wTz8kQp2v\n"
               "  api:\n    environment:\n      DB_PASSWORD: Xq7vLm2pR9zz\n"
               "  postgres:\n    environment:\n      POSTGRES_PASSWORD: Xq7vLm2pR9zz\n")
    assert names(compose) == [("POSTGRES_PASSWORD", [7, 10]), ("CLICKHOUSE_PASSWORD", [4])]


def test_a_second_value_under_a_taken_name_gets_the_service_prefix() -> None:
    compose = ("services:\n"
               "  postgres:\n    environment:\n      POSTGRES_PASSWORD: Xq7vLm2pR9zz\n"
               "  temporal-postgres:\n    environment:\n      POSTGRES_PASSWORD: Hn4wTz8kQp2v\n")
    assert names(compose) == [("POSTGRES_PASSWORD", [4]), ("TEMPORAL_POSTGRES_PASSWORD", [7])]


def test_values_with_no_free_name_are_numbered() -> None:
    """`--requirepass` only suggests REDIS_PASSWORD: three different ones are numbered."""
    compose = ("services:\n"
               "  redis:\n    command: redis-server --requirepass Xq7vLm2pR9zz\n"
               "  cache:\n    command: redis-server --requirepass Hn4wTz8kQp2v\n"
               "  queue:\n    command: redis-server --requirepass Bw5yRc3nJt6m\n")
    assert names(compose) == [("REDIS_PASSWORD", [3]), ("REDIS_PASSWORD_2", [5]),
                              ("REDIS_PASSWORD_3", [7])]


def test_the_files_own_fallback_variable_keeps_its_name() -> None:
    """`${POSTGRES_PASSWORD:-x}` names its variable: a literal elsewhere with another value
    yields the name, even when it comes first in the file."""
    compose = ("services:\n"
               "  db:\n    environment:\n      POSTGRES_PASSWORD: Xq7vLm2pR9zz\n"
               "  api:\n    environment:\n      DATABASE_URL: "
               "\"postgres://vextrus:${POSTGRES_PASSWORD:-Hn4wTz8kQp2v}@db:5432/vextrus\"\n")
    assert names(compose) == [("POSTGRES_PASSWORD", [7]), ("DB_POSTGRES_PASSWORD", [4])]


def test_a_literal_equal_to_a_fallback_joins_its_variable() -> None:
    compose = ("services:\n"
               "  postgres:\n    environment:\n"
               "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-vextrus_dev_2024}\n"
               "  auth:\n    environment:\n"
               "      DATABASE_URL: postgres://vextrus:vextrus_dev_2024@postgres:5432/vextrus\n")
    assert names(compose) == [("POSTGRES_PASSWORD", [4, 7])]


@pytest.mark.parametrize("compose", [
    "services:\n  grafana:\n    environment:\n      GF_SECURITY_ADMIN_PASSWORD: admin\n"
    "  rabbitmq:\n    environment:\n      RABBITMQ_DEFAULT_PASS: admin\n",
    "services:\n  redis:\n    command: redis-server --requirepass admin\n"
    "  minio:\n    command: server /data --password admin\n",
])
def test_a_tutorial_default_is_not_shared_between_different_secrets(compose: str) -> None:
    """`admin` in two places is a coincidence: each place keeps its own variable."""
    assert len(names(compose)) == 2


def test_a_finding_without_suggested_names_is_named_after_its_key() -> None:
    value = "admin"
    edit = Edit(0, 0, len(value), "", False, value, 0, len(value), True)
    finding = Finding("docker-compose.yml", 3, "api.password", "hardcoded secret, known default",
                      "default", mask_value(value), value=value, edit=edit)
    assert [a.variable for a in assign_variables([finding])] == ["API_PASSWORD"]
